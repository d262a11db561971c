import Distributions
import Inference
import JSON

/// A gradient estimator as the job language names it: its options, the guide sites it fits,
/// and how its options build the engine's ``Estimator``.
public struct EstimatorWord: Sendable {
    /// The name a spec writes (`"straight_through"`).
    public let name: String
    /// Its options (beside `name`), in the order they are read.
    public let options: [VocabularyOption]
    /// The guide sites it applies to.
    public let fits: Fit
    /// The estimator its decoded options describe.
    let build: @Sendable (OptionValues) -> Estimator
    /// Whether an estimator is this word's (the inverse of `build`, for labels and fit checks).
    let names: @Sendable (Estimator) -> Bool

    /// The guide sites an estimator applies to.
    public enum Fit: Sendable {
        /// Laws with a pathwise sampler (`rsample`).
        case pathwise
        /// Every law.
        case any
        /// Exactly these catalog laws (a wrapped law, `event_dims` > 0, is not one of them),
        /// with a hint appended to the refusal.
        case laws([String], hint: String = "")

        /// Why an estimator named `label` cannot serve a site drawn from `dist`, or nil.
        func problem(_ label: String, _ dist: any Distribution) -> String? {
            switch self {
            case .pathwise:
                return dist.hasRSample ? nil : "\(dist.name) has no reparameterised sampler; use score or enum"
            case .any:
                return nil
            case let .laws(names, hint):
                if names.contains(where: { DistributionCatalog.entry($0)?.isInstance(dist) == true }) { return nil }
                return "\(label) applies to \(Vocabulary.conjunction(names)) sites, not \(dist.name)\(hint)"
            }
        }

        /// What `/v1/capabilities` lists for it.
        public var capability: [String] {
            switch self {
            case .pathwise: ["every distribution with a pathwise sampler (Gamma, Beta, Dirichlet, StudentT implicitly)"]
            case .any: ["any"]
            case let .laws(names, _): names
            }
        }
    }
}

extension Vocabulary {
    static let temperature = VocabularyOption("temperature", .number(0...1e6, exclusiveMinimum: true), example: "0.5")
    static let categoricalAsIndex = " (a Categorical used as an index needs score or enum)"

    /// The estimators, in the order the language lists them.
    public static let estimators: [EstimatorWord] = [
        EstimatorWord(name: "reparam", options: [], fits: .pathwise,
                      build: { _ in .reparam }, names: { $0 == .reparam }),
        EstimatorWord(name: "omt", options: [], fits: .laws(["MultivariateNormal"]),
                      build: { _ in .omt }, names: { $0 == .omt }),
        EstimatorWord(name: "avf", options: [VocabularyOption("rank", .integer(1...64), default: .number(1))],
                      fits: .laws(["MultivariateNormal"]),
                      build: { .avf(rank: $0.integer("rank")) }, names: { if case .avf = $0 { true } else { false } }),
        EstimatorWord(name: "score", options: [VocabularyOption("baseline", .baseline, default: .string("none"))], fits: .any,
                      build: { .score(baseline: $0.baseline("baseline")) }, names: { if case .score = $0 { true } else { false } }),
        EstimatorWord(name: "relaxed", options: [temperature], fits: .laws(["OneHotCategorical", "Bernoulli"], hint: categoricalAsIndex),
                      build: { .relaxed(temperature: $0.number("temperature")) }, names: { if case .relaxed = $0 { true } else { false } }),
        EstimatorWord(name: "straight_through", options: [temperature], fits: .laws(["OneHotCategorical", "Bernoulli"], hint: categoricalAsIndex),
                      build: { .straightThrough(temperature: $0.number("temperature")) },
                      names: { if case .straightThrough = $0 { true } else { false } }),
        EstimatorWord(name: "enum", options: [], fits: .laws(["Categorical", "OneHotCategorical", "Bernoulli"]),
                      build: { _ in .enumerate }, names: { $0 == .enumerate }),
    ]

    /// The estimator word named `name`.
    public static func estimator(named name: String) -> EstimatorWord? { estimators.first { $0.name == name } }

    /// The word of an engine estimator.
    static func word(of estimator: Estimator) -> EstimatorWord? { estimators.first { $0.names(estimator) } }
}

/// Which estimators fit which distributions (validation of every guide site), from the
/// vocabulary's ``EstimatorWord/Fit``.
public enum EstimatorFit {
    /// Why `estimator` cannot serve a site drawn from `dist`, or nil when it can.
    public static func problem(_ estimator: Estimator, _ dist: any Distribution) -> String? {
        Vocabulary.word(of: estimator)?.fits.problem(estimator.label, dist)
    }
}

extension Estimator {
    /// The spec's name for the estimator.
    public var label: String { Vocabulary.word(of: self)?.name ?? "\(self)" }
}

extension Reader {
    /// An estimator: a name, or an object with `name` and the word's options.
    func estimator(_ v: JSONValue, _ p: JSONPointer) -> EstimatorSpec? {
        let nameValue: String
        var given = JSONObject()
        switch v {
        case let .string(s): nameValue = s
        case let .object(o):
            guard let n = string(o["name"], p.appending("name"), "estimator name") else {
                if o["name"] == nil { diagnostics.report(p, "an estimator object needs 'name'") }
                return nil
            }
            nameValue = n; given = o
        default:
            diagnostics.report(p, "an estimator must be a name or an object with 'name', not \(v.typeName)"); return nil
        }
        guard let word = Vocabulary.estimator(named: nameValue) else {
            let at = v.asString != nil ? p : p.appending("name")
            diagnostics.report(at, "unknown estimator '\(nameValue)' (known: \(Vocabulary.estimators.map(\.name).joined(separator: ", ")))")
            return nil
        }
        if case .object = v { _ = object(v, p, "estimator '\(nameValue)'", allowed: ["name"] + word.options.map(\.name)) }
        guard let values = options(word.options, of: nameValue, in: given, p) else { return nil }
        return EstimatorSpec(estimator: word.build(values), pointer: p)
    }
}
