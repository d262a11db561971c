#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A reproducible stream of random variates built on Philox4x32-10.
///
/// **State.** A stream is `(seed, stream, counter)` plus at most one cached normal deviate
/// (`spareNormal`, see below). `seed` is the Philox key; `stream` selects an independent
/// sequence under the same seed (the engine uses one per sample site); `counter` is the index
/// of the next 64-bit word. Word `c` is half `c & 1` (low half first) of the Philox block for
/// the 128-bit counter `(c >> 1, stream)`, i.e. words `(lo32(c>>1), hi32(c>>1), lo32(stream),
/// hi32(stream))`. The counter therefore advances by **2 per Philox block, 1 per 64-bit word**;
/// its top bit is never used (2⁶³ words per stream).
///
/// **Resumption.** Every draw is a pure function of the state, so saving the state (it is
/// `Codable`) and restoring it continues the sequence exactly. A freshly constructed stream has
/// no spare normal, so `(seed, stream, counter)` alone reproduces everything drawn from it; after
/// an odd number of normal deviates the spare must be saved too (Codable does).
///
/// **Word budget.** `nextUInt64` and `uniform` take one word; `exponential` and `gumbel` one;
/// `normal` takes two words for every *pair* (Box–Muller), returning the first and caching the
/// second in `spareNormal`, which the next `normal` returns without consuming words. Rejection
/// samplers (`gamma`, `poisson`, `binomial`, `beta`) consume a variable number of words.
///
/// Equality and hashing compare the state (seed, stream, counter, spare); an internal cache of
/// the last block's second word is not part of it. Construction does no work beyond storing
/// the triple.
public struct RandomStream: Sendable, Hashable, Codable {
    /// The Philox key.
    public let seed: UInt64
    /// The independent sequence selected under `seed` (the high half of the Philox counter).
    public let stream: UInt64
    /// Index of the next 64-bit word of the sequence.
    @inlinable public var counter: UInt64 { position }
    /// The second deviate of the last Box–Muller pair, returned by the next `normal()`.
    @inlinable public var spareNormal: Double? { spare }

    /// Storage of `counter`.
    @usableFromInline var position: UInt64
    /// Storage of `spareNormal`.
    @usableFromInline var spare: Double?

    /// Block index whose second word is in `cachedWord`; `.max` (never a valid index) if none.
    @usableFromInline var cachedBlock: UInt64 = .max
    /// Second 64-bit word of block `cachedBlock`.
    @usableFromInline var cachedWord: UInt64 = 0

    /// The stream `(seed, stream)` positioned at word `counter` with no spare normal.
    /// Cheap: stores three integers.
    @inlinable
    public init(seed: UInt64, stream: UInt64 = 0, counter: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.position = counter
        self.spare = nil
    }

    enum CodingKeys: String, CodingKey {
        case seed, stream, counter, spareNormal
    }

    /// Decodes `seed`, `stream`, `counter` and the optional `spareNormal`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        seed = try container.decode(UInt64.self, forKey: .seed)
        stream = try container.decode(UInt64.self, forKey: .stream)
        position = try container.decode(UInt64.self, forKey: .counter)
        spare = try container.decodeIfPresent(Double.self, forKey: .spareNormal)
    }

    /// Encodes `seed`, `stream`, `counter` and, when present, `spareNormal`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(seed, forKey: .seed)
        try container.encode(stream, forKey: .stream)
        try container.encode(counter, forKey: .counter)
        try container.encodeIfPresent(spareNormal, forKey: .spareNormal)
    }

    /// Equal when seed, stream, counter and spare normal are equal.
    public static func == (lhs: RandomStream, rhs: RandomStream) -> Bool {
        lhs.seed == rhs.seed && lhs.stream == rhs.stream && lhs.counter == rhs.counter
            && lhs.spareNormal?.bitPattern == rhs.spareNormal?.bitPattern
    }

    /// Hashes seed, stream, counter and spare normal.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(seed)
        hasher.combine(stream)
        hasher.combine(counter)
        hasher.combine(spareNormal?.bitPattern)
    }

    // MARK: - Raw words and uniforms

    /// The next 64 uniformly random bits; advances `counter` by 1.
    @inlinable
    public mutating func nextUInt64() -> UInt64 {
        let index = counter >> 1
        let high = counter & 1 == 1
        position &+= 1
        if high && index == cachedBlock { return cachedWord }
        let philox = Philox4x32(key: seed)
        let out = philox.block(SIMD4(
            UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32),
            UInt32(truncatingIfNeeded: stream), UInt32(truncatingIfNeeded: stream >> 32)))
        let low = UInt64(out[0]) | UInt64(out[1]) << 32
        let second = UInt64(out[2]) | UInt64(out[3]) << 32
        cachedBlock = index
        cachedWord = second
        return high ? second : low
    }

    /// A uniform deviate in the open interval (0, 1): k · 2⁻⁵³ for the top 53 bits k of one
    /// word, with k = 0 mapped to 2⁻⁵⁴ (so never 0; the largest value is 1 − 2⁻⁵³, never 1).
    @inlinable
    public mutating func uniform() -> Double {
        Self.openUnit(nextUInt64())
    }

    /// Maps a word to (0, 1) as described at `uniform()`.
    @inlinable
    static func openUnit(_ word: UInt64) -> Double {
        max(Double(word >> 11) * 0x1p-53, 0x1p-54)
    }

    // MARK: - Continuous variates

    /// A standard normal deviate (Box–Muller). Every other call returns the cached second
    /// member of the previous pair; a pair costs two words.
    @inlinable
    public mutating func normal() -> Double {
        if let cached = spare {
            spare = nil
            return cached
        }
        let u1 = uniform()
        let u2 = uniform()
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spare = radius * sin(angle)
        return radius * cos(angle)
    }

    /// A standard Gumbel deviate −log(−log U); one word.
    @inlinable
    public mutating func gumbel() -> Double {
        -log(-log(uniform()))
    }

    /// A standard exponential deviate −log U (mean 1); one word.
    @inlinable
    public mutating func exponential() -> Double {
        -log(uniform())
    }

    /// A Gamma(shape, 1) deviate (mean and variance `shape`).
    ///
    /// Marsaglia & Tsang (2000) for shape ≥ 1; for shape < 1 a Gamma(shape + 1) deviate times
    /// U^{1/shape} (drawn in that order), formed in log space. Precondition: `shape > 0`.
    /// For very small shapes the result can underflow to 0; `beta` avoids that internally.
    public mutating func gamma(shape: Double) -> Double {
        exp(logGamma(shape: shape))
    }

    /// log of a Gamma(shape, 1) deviate; finite even when the deviate itself underflows.
    mutating func logGamma(shape: Double) -> Double {
        precondition(shape > 0 && shape.isFinite, "gamma shape must be positive and finite, got \(shape)")
        if shape < 1 {
            let boosted = marsagliaTsang(shape: shape + 1)
            return log(boosted) + log(uniform()) / shape
        }
        return log(marsagliaTsang(shape: shape))
    }

    /// Marsaglia–Tsang squeeze/rejection sampler for shape ≥ 1.
    mutating func marsagliaTsang(shape: Double) -> Double {
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            let x = normal()
            var v = 1 + c * x
            if v <= 0 { continue }
            v = v * v * v
            let u = uniform()
            let x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 { return d * v }
            if log(u) < 0.5 * x2 + d * (1 - v + log(v)) { return d * v }
        }
    }

    /// A Beta(a, b) deviate X / (X + Y) from X ~ Gamma(a), Y ~ Gamma(b) (drawn in that order),
    /// combined in log space so tiny shapes do not produce 0/0. Precondition: `a, b > 0`.
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let logX = logGamma(shape: a)
        let logY = logGamma(shape: b)
        return Special.sigmoid(logX - logY)
    }

    // MARK: - Discrete variates

    /// A Poisson(rate) count. Sequential inversion for rate < 10 (one word); Hörmann's PTRS
    /// transformed rejection (1993) for rate ≥ 10 (two words per trial, acceptance ≈ 90 %).
    /// Precondition: `0 ≤ rate < 2⁶²`, finite.
    public mutating func poisson(rate: Double) -> Int {
        precondition(rate >= 0 && rate < 0x1p62, "Poisson rate must be in [0, 2^62), got \(rate)")
        if rate == 0 { return 0 }
        if rate < 10 { return poissonInversion(rate: rate) }
        return poissonPTRS(rate: rate)
    }

    mutating func poissonInversion(rate: Double) -> Int {
        let u = uniform()
        var k = 0
        var p = exp(-rate)
        var cumulative = p
        while u > cumulative {
            k += 1
            p *= rate / Double(k)
            if p == 0 { break }
            cumulative += p
        }
        return k
    }

    mutating func poissonPTRS(rate: Double) -> Int {
        let logRate = log(rate)
        let b = 0.931 + 2.53 * rate.squareRoot()
        let a = -0.059 + 0.02483 * b
        let logInvAlpha = log(1.1239 + 1.1328 / (b - 3.4))
        let vr = 0.9277 - 3.6224 / (b - 2)
        while true {
            let u = uniform() - 0.5
            let v = uniform()
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + rate + 0.43).rounded(.down)
            if us >= 0.07 && v <= vr { return Int(k) }
            if k < 0 || (us < 0.013 && v > us) { continue }
            if log(v) + logInvAlpha - log(a / (us * us) + b) <= -rate + k * logRate - Special.lgamma(k + 1) {
                return Int(k)
            }
        }
    }

    /// A Binomial(count, probability) count.
    ///
    /// p ∈ {0, 1} are exact; p > ½ is drawn as count − Binomial(count, 1 − p). Then inversion
    /// when count·p < 10, otherwise Hörmann's BTRS transformed rejection (1993).
    /// Precondition: `count ≥ 0`, `0 ≤ probability ≤ 1`.
    public mutating func binomial(count: Int, probability: Double) -> Int {
        precondition(count >= 0, "binomial count must be non-negative, got \(count)")
        precondition(probability >= 0 && probability <= 1, "binomial probability must be in [0, 1], got \(probability)")
        if count == 0 || probability == 0 { return 0 }
        if probability == 1 { return count }
        if probability > 0.5 { return count - binomial(count: count, probability: 1 - probability) }
        if Double(count) * probability < 10 { return binomialInversion(count: count, p: probability) }
        return binomialBTRS(count: count, p: probability)
    }

    mutating func binomialInversion(count: Int, p: Double) -> Int {
        let n = Double(count)
        let q = 1 - p
        let s = p / q
        let a = (n + 1) * s
        let start = exp(n * cLog1p(-p))
        while true {
            var u = uniform()
            var r = start
            var x = 0
            while u > r {
                u -= r
                x += 1
                if x > count { break }
                r *= a / Double(x) - s
            }
            if x <= count { return x }
        }
    }

    mutating func binomialBTRS(count: Int, p: Double) -> Int {
        let n = Double(count)
        let q = 1 - p
        let spq = (n * p * q).squareRoot()
        let b = 1.15 + 2.53 * spq
        let a = -0.0873 + 0.0248 * b + 0.01 * p
        let c = n * p + 0.5
        let vr = 0.92 - 4.2 / b
        let alpha = (2.83 + 5.1 / b) * spq
        let logPQ = log(p / q)
        let m = ((n + 1) * p).rounded(.down)
        let h = Special.lgamma(m + 1) + Special.lgamma(n - m + 1)
        while true {
            let u = uniform() - 0.5
            var v = uniform()
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + c).rounded(.down)
            if k < 0 || k > n { continue }
            if us >= 0.07 && v <= vr { return Int(k) }
            v = log(v * alpha / (a / (us * us) + b))
            if v <= h - Special.lgamma(k + 1) - Special.lgamma(n - k + 1) + (k - m) * logPQ {
                return Int(k)
            }
        }
    }

    // MARK: - Bulk fills (hot path: no allocation)

    /// Writes `count` uniforms in (0, 1) to `p`; identical to `count` calls of `uniform()`.
    @inlinable
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Double>, count: Int) {
        precondition(count >= 0)
        var i = 0
        if counter & 1 == 1 && count > 0 {
            p[0] = uniform()
            i = 1
        }
        let philox = Philox4x32(key: seed)
        let s0 = UInt32(truncatingIfNeeded: stream)
        let s1 = UInt32(truncatingIfNeeded: stream >> 32)
        while i + 1 < count {
            let index = counter >> 1
            let out = philox.block(SIMD4(
                UInt32(truncatingIfNeeded: index), UInt32(truncatingIfNeeded: index >> 32), s0, s1))
            p[i] = Self.openUnit(UInt64(out[0]) | UInt64(out[1]) << 32)
            p[i + 1] = Self.openUnit(UInt64(out[2]) | UInt64(out[3]) << 32)
            position &+= 2
            i += 2
        }
        if i < count { p[i] = uniform() }
    }

    /// Writes `count` standard normals to `p`; identical to `count` calls of `normal()`
    /// (including use and production of the spare).
    @inlinable
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Double>, count: Int) {
        precondition(count >= 0)
        for i in 0..<count { p[i] = normal() }
    }

    /// Writes `count` standard Gumbel deviates to `p`; identical to `count` calls of `gumbel()`.
    @inlinable
    public mutating func fillGumbel(_ p: UnsafeMutablePointer<Double>, count: Int) {
        precondition(count >= 0)
        fillUniform(p, count: count)
        for i in 0..<count { p[i] = -log(-log(p[i])) }
    }
}
