import JSON
import ModelSpec
import TestSupport

/// `v` with the value at the path `tokens` replaced by `value` (nil removes it; a missing
/// object member is added).
public func replace(_ v: JSONValue, _ tokens: ArraySlice<String>, _ value: JSONValue?) -> JSONValue {
    guard let head = tokens.first else { return value ?? .null }
    switch v {
    case var .object(o):
        if tokens.count == 1 { o[head] = value; return .object(o) }
        o[head] = replace(o[head] ?? .object(JSONObject()), tokens.dropFirst(), value)
        return .object(o)
    case var .array(a):
        let i = Int(head)!
        if tokens.count == 1 {
            if let value { if i < a.count { a[i] = value } else { a.append(value) } } else { a.remove(at: i) }
            return .array(a)
        }
        a[i] = replace(a[i], tokens.dropFirst(), value)
        return .array(a)
    default:
        return v
    }
}

/// Values at the edges of what a job spec may say: sizes that overflow or allocate terabytes,
/// expressions that fold for minutes, numbers that are not numbers, estimators and
/// distributions in the wrong places. The reproductions of issue 15 are among them.
public enum SpecEdges {
    public static let expressions = [
        "zeros(10000000,10000000,10000000)", "eye(10000000)", "diag(ones(10000000))", "ones(5000, 10000)",
        "1 + 0*sum(zeros(7000,7000) @ zeros(7000,7000))", "zeros(100000, 100000)", "exp(exp(exp(1e3)))",
        "((((((((((1))))))))))", "x[9]", "z @ z", "-", "log(-1)", "NaN", "sum(x, 7)", "len(z)", "softmax(x, -3)",
        "len(x)", "zeros(2)", "ones(3)", "eye(2)", "x", "1e308 * 1e308", "0/0", "sqrt(-1)", "x[-1]", "x[2147483648]",
    ]
    public static let numbers: [Double] = [
        0, -0.0, -1, 0.5, 1, 2, 3, 1000, 4097, 1e6, 1e7, 1e8, 1e9, 2_147_483_648, 9_007_199_254_740_992, 1e12, 1e300, -1e300,
        1e308, -1e308, .leastNonzeroMagnitude, 1e-300,
    ]
    public static let sizes: [JSONValue] = [
        .number(1), .number(2), .number(3), .number(10), .number(1000), .number(1_000_000), .number(100_000_000),
        .number(1e12), .number(0), .number(-5), .number(2.5), .string("len(x)"), .string("1 + 0*sum(zeros(7000,7000) @ zeros(7000,7000))"),
    ]
    public static let distributions = [
        "Normal", "HalfNormal", "HalfCauchy", "Exponential", "Gamma", "Beta", "LogNormal", "Bernoulli", "Categorical",
        "OneHotCategorical", "MultivariateNormal", "Dirichlet", "StudentT", "Poisson", "Bogus",
    ]
    public static let estimators = ["reparam", "score", "enum", "omt", "avf", "relaxed", "straight_through", "bogus"]
}

/// Random edits of valid specs — dropped keys, wrong types, values at the edges, garbage
/// expressions, deep nesting — from a fixed seed.
public struct SpecMutator {
    var random: SplitMix64
    let replacements: [JSONValue]
    /// A mutator drawing replacement values from `replacements` (default: every edge).
    public init(seed: UInt64, replacements: [JSONValue] = SpecMutator.edges) {
        random = SplitMix64(seed: seed); self.replacements = replacements
    }
    public mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(max(n, 1))) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }

    /// The job language's first mutation test's values, in its order (its cases stay as they were).
    public static let classic: [JSONValue] = [
        .null, .bool(true), .number(0), .number(-1), .number(1e308), .number(-1e308), .number(1e9), .number(0.5),
        .number(4097), .string(""), .string("x"), .string("exp(exp(exp(1e3)))"), .string("zeros(100000, 100000)"),
        .string("((((((((((1))))))))))"), .string("x[9]"), .string("z @ z"), .string("-"), .string("log(-1)"),
        .array([]), .array([.number(1), .string("a")]), .object(JSONObject()),
        .string("NaN"), .string("sum(x, 7)"), .string("len(z)"), .string("softmax(x, -3)"),
    ]

    /// Every edge of ``SpecEdges`` and a few wrong types.
    public static let edges: [JSONValue] = [
        .null, .bool(true), .string(""), .string("x"), .array([]), .array([.number(1), .string("a")]), .object(JSONObject()),
    ] + SpecEdges.expressions.map(JSONValue.string) + SpecEdges.numbers.map(JSONValue.number) + SpecEdges.sizes
        + SpecEdges.distributions.map(JSONValue.string) + SpecEdges.estimators.map(JSONValue.string)

    /// Every path in the document.
    func paths(_ v: JSONValue, _ prefix: [String] = []) -> [[String]] {
        var out = [prefix]
        switch v {
        case let .object(o): for (k, x) in o.members { out += paths(x, prefix + [k]) }
        case let .array(a): for (i, x) in a.enumerated() { out += paths(x, prefix + [String(i)]) }
        default: break
        }
        return out
    }

    /// One random edit of `doc`.
    public mutating func mutate(_ doc: JSONValue) -> JSONValue {
        let all = paths(doc).filter { !$0.isEmpty }
        guard !all.isEmpty else { return doc }
        let path = all[below(all.count)]
        switch below(4) {
        case 0: return replace(doc, path[...], nil)
        case 1:
            var deep = JSONValue.number(1)
            for _ in 0..<(20 + below(200)) { deep = .array([deep]) }
            return replace(doc, path[...], deep)
        default:
            return replace(doc, path[...], pick(replacements))
        }
    }

    /// `doc` after one to three edits.
    public mutating func mutated(_ doc: JSONValue) -> JSONValue {
        var out = doc
        for _ in 0..<(1 + below(3)) { out = mutate(out) }
        return out
    }
}

/// Whole specs put together at random from plates of edge sizes, guides and models of mixed
/// distributions and estimators (parameter-less guides among them), inits and lets from the
/// edge expressions, and inference settings at their edges: about half compile, and those
/// run — through the service's worker — to an end.
public struct SpecGenerator {
    var random: SplitMix64
    public init(seed: UInt64) { random = SplitMix64(seed: seed) }
    mutating func below(_ n: Int) -> Int { Int(random.next() % UInt64(max(n, 1))) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    static func object(_ members: [(String, JSONValue)]) -> JSONValue {
        var o = JSONObject()
        for (k, v) in members { o[k] = v }
        return .object(o)
    }

    /// A size: mostly small, sometimes from the edges.
    mutating func size() -> JSONValue { chance(75) ? .number(Double(1 + below(4))) : pick(SpecEdges.sizes) }

    /// An init or let expression: mostly one that fits `n` elements, sometimes an edge.
    mutating func expression(_ n: Int) -> JSONValue {
        chance(80) ? .string(pick(["zeros(\(n))", "ones(\(n))", "0.5 * ones(\(n))"])) : .string(pick(SpecEdges.expressions))
    }

    /// The distribution of a latent site and its arguments (from `loc` and `scale` names).
    mutating func distribution(loc: String, scale: String) -> (String, JSONValue) {
        switch below(7) {
        case 0: return ("HalfNormal", Self.object([("scale", .string(scale))]))
        case 1: return ("Gamma", Self.object([("concentration", .string(scale)), ("rate", .number(1))]))
        case 2: return ("Beta", Self.object([("concentration1", .string(scale)), ("concentration0", .string(scale))]))
        case 3: return ("Bernoulli", Self.object([("probs", .number(0.3))]))
        case 4: return (pick(SpecEdges.distributions), Self.object([("loc", .string(loc)), ("scale", .string(scale))]))
        default: return ("Normal", Self.object([("loc", .string(loc)), ("scale", .string(scale))]))
        }
    }

    /// The next spec.
    public mutating func next() -> JSONValue {
        let n = 1 + below(3)
        let data = (0..<(1 + below(4))).map { _ in JSONValue.array((0..<n).map { _ in .number(Double(below(9)) / 4 - 1) }) }
        var plates = JSONObject()
        plates["p"] = Self.object([("size", chance(80) ? .number(Double(n)) : size())])
        plates["d"] = Self.object([("size", chance(70) ? .string("len(x)") : size())] + (chance(15) ? [("subsample", .number(Double(1 + below(2))))] : []))
        var guide: [JSONValue] = []
        let parameterLess = chance(15)
        if !parameterLess {
            guide.append(Self.object([("param", .string("loc_q")), ("init", expression(n))]))
            guide.append(Self.object([("param", .string("scale_q")), ("init", expression(n)), ("constraint", .string(pick(["positive", "real", "unit_interval"])))]))
        }
        if !parameterLess || chance(50) {
            let (dist, args) = parameterLess ? ("Normal", Self.object([("loc", .number(0)), ("scale", .number(1))])) : distribution(loc: "loc_q", scale: "scale_q")
            var site: [(String, JSONValue)] = [("sample", .string("z")), ("dist", .string(dist)), ("args", args), ("plates", .array([.string("p")]))]
            if chance(40) { site.append(("estimator", .string(pick(SpecEdges.estimators)))) }
            guide.append(Self.object(site))
        }
        var model: [JSONValue] = []
        if !guide.isEmpty && chance(90) {
            let (dist, args) = distribution(loc: "zeros(\(n))", scale: "ones(\(n))")
            model.append(Self.object([("sample", .string("z")), ("dist", .string(dist)), ("args", args), ("plates", .array([.string("p")]))]))
        }
        if chance(20) { model.append(Self.object([("let", .string("big")), ("value", .string(pick(SpecEdges.expressions)))])) }
        let loc: JSONValue = model.isEmpty ? .string("zeros(\(n))") : .string("z")
        model.append(Self.object([("sample", .string("obs")), ("dist", .string("Normal")), ("args", Self.object([("loc", loc), ("scale", .number(1))])),
                                  ("plates", .array([.string("d"), .string("p")])), ("obs", .string("x"))]))
        var optimizer: [(String, JSONValue)] = [("name", .string(pick(["adam", "sgd", "clipped_adam"]))),
                                                 ("lr", .number(chance(85) ? 0.01 : pick(SpecEdges.numbers)))]
        if chance(10) { optimizer.append(("betas", .array([.number(pick(SpecEdges.numbers)), .number(0.999)]))) }
        let inference = Self.object([
            ("elbo", .string(pick(["tracegraph", "trace", "meanfield"]))), ("steps", .number(chance(90) ? Double(1 + below(30)) : pick(SpecEdges.numbers))),
            ("particles", .number(chance(85) ? Double(1 + below(3)) : pick([1000, 1e6, 0, -1]))), ("seed", .number(Double(below(1000)))),
            ("optimizer", Self.object(optimizer)),
        ])
        return Self.object([("name", .string("generated")), ("data", Self.object([("x", .array(data))])), ("plates", .object(plates)),
                            ("guide", .array(guide)), ("model", .array(model)), ("inference", inference)])
    }
}
