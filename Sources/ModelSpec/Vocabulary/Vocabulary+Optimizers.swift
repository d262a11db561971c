import Inference
import JSON

/// An optimiser of `inference.optimizer` as the job language names it: its options and how
/// they build the engine's ``OptimizerConfig``.
public struct OptimizerWord: Sendable {
    /// The name a spec writes (`"clipped_adam"`).
    public let name: String
    /// Its options (beside `name`), in the order they are read.
    public let options: [VocabularyOption]
    /// A check across options, with the option it points at: (key, message) when it fails.
    let rule: (@Sendable (OptionValues) -> (key: String, message: String)?)?
    /// The same rule as JSON Schema keywords (`if`/`then`), for ``JobSpecSchema``.
    let schemaRule: JSONObject?
    /// The optimiser its decoded options describe.
    let build: @Sendable (OptionValues) -> OptimizerConfig
}

extension Vocabulary {
    static let learningRate = VocabularyOption("lr", .number(0...1e6, exclusiveMinimum: true), default: .number(0.001), schemaName: "LearningRate")
    static let betas = VocabularyOption("betas", .pair(0...0.999999999, first: "beta1", second: "beta2"), default: .array([.number(0.9), .number(0.999)]), schemaName: "Betas")
    static let epsilon = VocabularyOption("eps", .number(0...1, exclusiveMinimum: false), default: .number(1e-8), schemaName: "Epsilon")

    /// The optimisers, in the order the language lists them.
    public static let optimizers: [OptimizerWord] = [
        OptimizerWord(name: "adam", options: [learningRate, betas, epsilon], rule: nil, schemaRule: nil) { o in
            let (b1, b2) = o.pair("betas")
            return .adam(lr: o.number("lr"), beta1: b1, beta2: b2, eps: o.number("eps"))
        },
        OptimizerWord(name: "clipped_adam", options: [
            learningRate, betas, epsilon,
            VocabularyOption("clip_norm", .number(0...1e12, exclusiveMinimum: true), default: .number(10)),
            VocabularyOption("lr_decay", .number(0...1, exclusiveMinimum: true), default: .number(1)),
        ], rule: nil, schemaRule: nil) { o in
            let (b1, b2) = o.pair("betas")
            return .clippedAdam(lr: o.number("lr"), beta1: b1, beta2: b2, eps: o.number("eps"),
                                clipNorm: o.number("clip_norm"), lrDecay: o.number("lr_decay"))
        },
        OptimizerWord(name: "sgd", options: [
            VocabularyOption(learningRate.name, learningRate.kind, schemaName: learningRate.schemaName),
            VocabularyOption("momentum", .number(0...1, exclusiveMinimum: false), default: .number(0)),
            VocabularyOption("nesterov", .boolean, default: .bool(false)),
        ], rule: { o in
            o.boolean("nesterov") && o.number("momentum") == 0 ? (key: "nesterov", message: "Nesterov momentum needs momentum > 0") : nil
        }, schemaRule: [
            "if": .object(["required": .array([.string("nesterov")]), "properties": .object(["nesterov": .object(["const": .bool(true)])])]),
            "then": .object(["required": .array([.string("momentum")]), "properties": .object(["momentum": .object(["exclusiveMinimum": .number(0)])])]),
        ]) { o in
            .sgd(lr: o.number("lr"), momentum: o.number("momentum"), nesterov: o.boolean("nesterov"))
        },
    ]

    /// The optimiser word named `name`.
    public static func optimizer(named name: String) -> OptimizerWord? { optimizers.first { $0.name == name } }
}

extension Reader {
    /// `inference.optimizer`: an object with `name` and the word's options.
    func optimizer(_ v: JSONValue, _ p: JSONPointer) -> OptimizerConfig? {
        guard case let .object(o) = v else { diagnostics.report(p, "optimizer must be an object with 'name', not \(v.typeName)"); return nil }
        let names = Vocabulary.optimizers.map(\.name)
        guard let n = string(o["name"], p.appending("name"), "optimizer name") else {
            if o["name"] == nil { diagnostics.report(p, "optimizer needs 'name' (\(Vocabulary.alternatives(names)))") }
            return nil
        }
        guard let word = Vocabulary.optimizer(named: n) else {
            diagnostics.report(p.appending("name"), "unknown optimizer '\(n)' (known: \(names.joined(separator: ", ")))"); return nil
        }
        _ = object(v, p, "optimizer '\(n)'", allowed: ["name"] + word.options.map(\.name))
        guard let values = options(word.options, of: n, in: o, p) else { return nil }
        if let broken = word.rule?(values) { diagnostics.report(p.appending(broken.key), broken.message) }
        return word.build(values)
    }
}
