import Autodiff

/// The resource bounds a spec is checked against before anything of it is evaluated or
/// allocated (issue 15): what one constant may hold, what building the job's graph may
/// allocate, how much computing from constants may cost, and what the whole job may hold
/// while it runs. A spec past a bound is refused with the pointer of the part that passed it
/// and what to change. The service sets them from its options; the defaults suit a
/// machine of a few GiB per worker.
public struct ValidationLimits: Sendable, Equatable {
    /// Everything a running job may hold (``JobMemoryEstimate/total``): tape arenas, graph
    /// tables and constants, optimiser state, checkpoints and result summaries.
    public var maxJobBytes: Int
    /// What building the job's graph may allocate while validating: constant values, initial
    /// values and index tables (this bounds a validation request's memory).
    public var maxGraphBytes: Int
    /// Numbers one constant written in an expression may hold (`zeros`, `ones`, `eye`).
    public var maxConstantElements: Int
    /// Operations (multiply-adds and element-wise evaluations) one expression may take to
    /// compute from constants, and all of a job's constants together.
    public var maxFoldOperations: Double
    /// Operations validation itself may spend computing a value it needs (a plate size, an
    /// init, a constant checked against a support): keeps a validation request in the
    /// milliseconds.
    public var maxValidationOperations: Double

    public init(maxJobBytes: Int = 4 << 30, maxGraphBytes: Int = 1 << 30, maxConstantElements: Int = 8_388_608,
                maxFoldOperations: Double = 2e9, maxValidationOperations: Double = 5e7) {
        self.maxJobBytes = maxJobBytes; self.maxGraphBytes = maxGraphBytes
        self.maxConstantElements = maxConstantElements
        self.maxFoldOperations = maxFoldOperations; self.maxValidationOperations = maxValidationOperations
    }

    /// The defaults.
    public static let standard = ValidationLimits()

    /// The graph limits these bounds imply: no value larger than the job may hold, no more
    /// graph bytes than ``maxGraphBytes``.
    var graphLimits: GraphLimits {
        GraphLimits(maxElements: max(1, maxJobBytes / 16), maxBytes: maxGraphBytes)
    }
}

/// Sizes and counts as a user reads them.
enum ByteCount {
    /// `1.5 GiB`, `380 MiB`, `12 KiB`, `512 B`.
    static func text(_ bytes: Int) -> String {
        let b = Double(bytes), kib = 1024.0, mib = kib * kib, gib = mib * kib
        if b >= gib { return "\(oneDecimal(b / gib)) GiB" }
        if b >= mib { return "\(Int((b / mib).rounded())) MiB" }
        if b >= kib { return "\(Int((b / kib).rounded())) KiB" }
        return "\(bytes) B"
    }

    /// `50,000,000`.
    static func numbers(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }

    /// `6.9e11` operations.
    static func operations(_ x: Double) -> String {
        guard x.isFinite else { return "more than 1e300" }
        if x < 1e6 { return String(Int(x)) }
        let e = Int(x.magnitude.log10Floor)
        return "\(oneDecimal(x / pow10(e)))e\(e)"
    }

    static func oneDecimal(_ x: Double) -> String {
        let t = (x * 10).rounded() / 10
        return t == t.rounded() ? String(Int(t)) : String(t)
    }

    static func pow10(_ e: Int) -> Double { (0..<e).reduce(1.0) { acc, _ in acc * 10 } }
}

private extension Double {
    var log10Floor: Double {
        var e = 0.0, x = self
        while x >= 10 { x /= 10; e += 1 }
        return e
    }
}
