/// The functions expressions may call, with the arguments each takes.
public enum BuiltinFunction: String, CaseIterable, Sendable {
    /// `exp(x)`
    case exp
    /// `log(x)`
    case log
    /// `log1p(x)`, log(1 + x)
    case log1p
    /// `expm1(x)`, exp(x) − 1
    case expm1
    /// `sqrt(x)`
    case sqrt
    /// `abs(x)`
    case abs
    /// `sigmoid(x)`
    case sigmoid
    /// `logit(x)`
    case logit
    /// `softplus(x)`
    case softplus
    /// `tanh(x)`
    case tanh
    /// `softmax(x)` over the last axis, or `softmax(x, axis)`
    case softmax
    /// `log_softmax(x)` over the last axis, or `log_softmax(x, axis)`
    case logSoftmax = "log_softmax"
    /// `logsumexp(x)` over all elements, or `logsumexp(x, axis)`
    case logsumexp
    /// `sum(x)` over all elements, or `sum(x, axis)`
    case sum
    /// `mean(x)` over all elements, or `mean(x, axis)`
    case mean
    /// `transpose(x)`
    case transpose
    /// `zeros(d1, d2, ...)`
    case zeros
    /// `ones(d1, d2, ...)`
    case ones
    /// `eye(n)`, the n × n identity
    case eye
    /// `diag(x)`
    case diag
    /// `len(x)`, the size of the first axis; `len(p)` of a plate, its size in a step
    case len
    /// `unsqueeze(x, axis)`, a new axis of length 1 among x's own axes
    case unsqueeze
    /// `reshape(x, d1, d2, ...)`, x's own axes viewed with other sizes (one may be -1)
    case reshape
    /// `expand(x, d1, d2, ...)`, x's own axes repeated to the given sizes (-1 keeps one)
    case expand

    /// What a function's arguments must look like.
    enum Signature {
        /// One tensor argument.
        case unary
        /// A tensor, then optionally an axis: an integer literal (negative counts from the end)
        /// or a plate's name.
        case tensorAndOptionalAxis
        /// One or more non-negative integer literals.
        case dimensions
        /// Exactly one non-negative integer literal.
        case size
        /// A tensor, then an integer axis literal.
        case tensorAndAxis
        /// A tensor, then one or more sizes: integer literals, `-1`, plate names or `len(...)`.
        case tensorAndSizes
    }

    var signature: Signature {
        switch self {
        case .softmax, .logSoftmax, .logsumexp, .sum, .mean: .tensorAndOptionalAxis
        case .zeros, .ones: .dimensions
        case .eye: .size
        case .unsqueeze: .tensorAndAxis
        case .reshape, .expand: .tensorAndSizes
        default: .unary
        }
    }

    /// Every function name, sorted, as listed in error messages.
    public static var names: [String] { allCases.map(\.rawValue).sorted() }

    /// The known name closest to `name` by edit distance, if it is close enough to be a likely
    /// typo: at most 2 edits, and fewer edits than `name` has characters.
    static func suggestion(for name: String) -> String? {
        let limit = min(2, name.count - 1)
        guard limit > 0 else { return nil }
        var best: (name: String, distance: Int)?
        for candidate in names {
            let distance = editDistance(name.lowercased(), candidate)
            if distance <= limit, distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        return best?.name
    }

    /// Levenshtein distance between two short strings.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }
}
