import CCrypto

/// SHA-256 through OpenSSL's libcrypto: spec digests, idempotency request digests and API-key
/// digests (keys are stored and compared only as digests).
enum Digest {
    /// The 32-byte digest of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { o in _ = SHA256(input.baseAddress, input.count, o.baseAddress) }
        }
        return out
    }

    /// The digest of `bytes` as 64 lowercase hex digits.
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef")
        return String(sha256(bytes).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
    }

    /// Whether two digests are equal, in time independent of where they differ (no timing
    /// oracle on API keys).
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBufferPointer { x in b.withUnsafeBufferPointer { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
    }
}
