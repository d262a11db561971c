import Distributions
import Inference
import JSON

/// The job language's vocabulary in one table: every estimator, ELBO, entropy mode, optimiser,
/// autoguide and distribution (with Pyro's estimator-carrying aliases) by the name a spec
/// writes, with its options (JSON type, range, default), where it applies and how it builds.
/// The decoder, the estimators' labels and fit checks, `/v1/capabilities`, the JSON Schema
/// (``JobSpecSchema``) and the lists in docs/job-spec.md are read from here.
///
/// Adding an estimator: an entry in ``estimators`` plus its rule in Inference (`Estimator` and
/// `ProgramBuilder`). Adding a distribution: its type (with its declared parameters) plus an
/// entry in ``DistributionCatalog``.
public enum Vocabulary {
    /// The ELBOs of `inference.elbo`, the default first.
    public static let elbos: [ELBOKind] = [.tracegraph, .trace, .meanfield]

    /// The modes of `inference.entropy`: whether the guide's entropy is taken in closed form.
    public static let entropies: [(name: String, analytic: Bool)] = [("monte_carlo", false), ("analytic", true)]

    /// The constraints a param names (torch's `transform_to` names, as `Constraint` spells
    /// them); `{"interval": [a, b]}` is the one with arguments.
    public static let paramConstraints: [ConstraintSpec] = [.real, .positive, .nonnegative, .unitInterval, .simplex, .lowerCholesky]

    /// The autoguides of `guide.auto`.
    public static let autoguides: [AutoGuideSpec.Family] = [.normal, .mvn, .delta]

    /// `names` as prose: `a, b or c`.
    static func alternatives(_ names: [String]) -> String {
        names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " or " + names[names.count - 1]
    }

    /// `names` as prose: `a, b and c`.
    static func conjunction(_ names: [String]) -> String {
        names.count < 2 ? names.joined() : names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1]
    }
}

/// An option of a vocabulary word (`rank` of `avf`, `lr` of `adam`): its JSON type and range,
/// and its default.
public struct VocabularyOption: Sendable, Equatable {
    /// The JSON form an option takes.
    public enum Kind: Sendable, Equatable {
        /// An integer in the range.
        case integer(ClosedRange<Int>)
        /// A number in the range; with `exclusiveMinimum` the lower bound itself is refused.
        case number(ClosedRange<Double>, exclusiveMinimum: Bool)
        /// `true` or `false`.
        case boolean
        /// Two numbers, each in the range, named `first` and `second` in messages (`betas`).
        case pair(ClosedRange<Double>, first: String, second: String)
        /// A score-function baseline (`"none"`, `"loo"`, `"decaying_avg"`, `{"decaying_avg": β}`,
        /// `{"learned": …}`).
        case baseline
    }

    /// The key a spec writes.
    public let name: String
    public let kind: Kind
    /// The value a spec gets when it leaves the option out; nil when it must give it.
    public let defaultValue: JSONValue?
    /// A value shown in the message when a required option is missing.
    let example: String?
    /// The name of the schema definition that is this option's form, when several words share it.
    let schemaName: String?

    init(_ name: String, _ kind: Kind, default defaultValue: JSONValue? = nil, example: String? = nil, schemaName: String? = nil) {
        self.name = name; self.kind = kind; self.defaultValue = defaultValue; self.example = example; self.schemaName = schemaName
    }
}

/// The options of one word as decoded, defaults filled in: what a word's builder reads.
struct OptionValues {
    enum Decoded {
        case integer(Int), number(Double), boolean(Bool), pair(Double, Double), baseline(Baseline)
    }
    var values: [String: Decoded] = [:]

    func integer(_ name: String) -> Int {
        guard case let .integer(x)? = values[name] else { preconditionFailure("option '\(name)' is not a decoded integer") }
        return x
    }
    func number(_ name: String) -> Double {
        guard case let .number(x)? = values[name] else { preconditionFailure("option '\(name)' is not a decoded number") }
        return x
    }
    func boolean(_ name: String) -> Bool {
        guard case let .boolean(x)? = values[name] else { preconditionFailure("option '\(name)' is not a decoded boolean") }
        return x
    }
    func pair(_ name: String) -> (Double, Double) {
        guard case let .pair(a, b)? = values[name] else { preconditionFailure("option '\(name)' is not a decoded pair") }
        return (a, b)
    }
    func baseline(_ name: String) -> Baseline {
        guard case let .baseline(x)? = values[name] else { preconditionFailure("option '\(name)' is not a decoded baseline") }
        return x
    }
}

extension Reader {
    /// Reads `options` of the word `word` from `o`, reporting every problem. An invalid option
    /// with a default takes its default (the problem stays reported); nil when a required option
    /// is missing or invalid.
    func options(_ options: [VocabularyOption], of word: String, in o: JSONObject, _ p: JSONPointer) -> OptionValues? {
        var out = OptionValues()
        var complete = true
        for option in options {
            let q = p.appending(option.name)
            if let given = o[option.name], let value = decode(given, option, q) {
                out.values[option.name] = value
            } else if let fallback = option.defaultValue, let value = decode(fallback, option, q) {
                out.values[option.name] = value
            } else {
                if o[option.name] == nil {
                    diagnostics.report(p, option.example.map { "\(word) needs a '\(option.name)' (e.g. {\"name\": \"\(word)\", \"\(option.name)\": \($0)})" }
                             ?? "\(word) needs '\(option.name)'")
                }
                complete = false
            }
        }
        return complete ? out : nil
    }

    /// One option's value, or nil after reporting why it is not one.
    func decode(_ v: JSONValue, _ option: VocabularyOption, _ p: JSONPointer) -> OptionValues.Decoded? {
        switch option.kind {
        case let .integer(range):
            return integer(v, p, option.name, range: range).map { .integer($0) }
        case let .number(range, exclusive):
            return number(v, p, option.name, range: range, open: exclusive).map { .number($0) }
        case .boolean:
            guard case let .bool(b) = v else { diagnostics.report(p, "\(option.name) must be true or false"); return nil }
            return .boolean(b)
        case let .pair(range, first, second):
            guard case let .array(a) = v, a.count == 2 else {
                diagnostics.report(p, "\(option.name) must be [\(first), \(second)]"); return nil
            }
            guard let x = number(a[0], p.appending(0), first, range: range),
                  let y = number(a[1], p.appending(1), second, range: range) else { return nil }
            return .pair(x, y)
        case .baseline:
            return baselineSpec(v, p).map { .baseline($0) }
        }
    }
}
