/// The Philox4x32-10 counter-based block function of Salmon, Moraes, Dror & Shaw,
/// "Parallel random numbers: as easy as 1, 2, 3" (SC11, 2011), as in Random123.
///
/// A keyed bijection of 128-bit counters: `block(counter)` is a pure function of the key and
/// the counter, so any block of a stream can be computed directly without stepping through the
/// ones before it. Output matches the Random123 known-answer vectors bit for bit.
public struct Philox4x32: Sendable, Hashable {
    /// Low 32 bits of the key.
    public var key0: UInt32
    /// High 32 bits of the key.
    public var key1: UInt32

    @usableFromInline static let multiplier0: UInt32 = 0xD251_1F53
    @usableFromInline static let multiplier1: UInt32 = 0xCD9E_8D57
    @usableFromInline static let weyl0: UInt32 = 0x9E37_79B9
    @usableFromInline static let weyl1: UInt32 = 0xBB67_AE85

    /// A generator keyed by the two 32-bit words `(key0, key1)`.
    @inlinable
    public init(key0: UInt32, key1: UInt32) {
        self.key0 = key0
        self.key1 = key1
    }

    /// A generator keyed by a 64-bit key: `key0` its low half, `key1` its high half.
    @inlinable
    public init(key: UInt64) {
        self.init(key0: UInt32(truncatingIfNeeded: key), key1: UInt32(truncatingIfNeeded: key >> 32))
    }

    /// The 128-bit output block for a 128-bit counter (word 0 least significant), after the
    /// standard ten rounds.
    @inlinable
    public func block(_ counter: SIMD4<UInt32>) -> SIMD4<UInt32> {
        Self.rounds(10, counter: counter, key0: key0, key1: key1)
    }

    /// `count` Philox rounds of `counter` under `(key0, key1)`; the key is bumped by the Weyl
    /// constants between rounds. Ten rounds is the standard generator; other counts exist only
    /// so the published 7-round vectors can be checked too.
    @inlinable
    static func rounds(_ count: Int, counter: SIMD4<UInt32>, key0: UInt32, key1: UInt32) -> SIMD4<UInt32> {
        var x0 = counter[0], x1 = counter[1], x2 = counter[2], x3 = counter[3]
        var k0 = key0, k1 = key1
        for round in 0..<count {
            if round > 0 {
                k0 &+= weyl0
                k1 &+= weyl1
            }
            let product0 = UInt64(multiplier0) &* UInt64(x0)
            let product1 = UInt64(multiplier1) &* UInt64(x2)
            let hi0 = UInt32(truncatingIfNeeded: product0 >> 32)
            let lo0 = UInt32(truncatingIfNeeded: product0)
            let hi1 = UInt32(truncatingIfNeeded: product1 >> 32)
            let lo1 = UInt32(truncatingIfNeeded: product1)
            x0 = hi1 ^ x1 ^ k0
            x1 = lo1
            x2 = hi0 ^ x3 ^ k1
            x3 = lo0
        }
        return SIMD4(x0, x1, x2, x3)
    }
}
