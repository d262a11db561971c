/// Well-formedness of UTF-8 sequences (Unicode Table 3-7: no overlong forms, no encoded
/// surrogates, nothing above U+10FFFF), and hex formatting for messages.
enum UTF8Scalar {
    /// The length (1–4) of the well-formed sequence starting at `i`, or nil if it is not one.
    static func length(in bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        let lead = bytes[i]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xE1...0xEF: length = 3
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        case 0xF1...0xF3: length = 4
        default: return nil
        }
        guard i + length <= bytes.count, secondRange.contains(bytes[i + 1]) else { return nil }
        for j in (i + 2)..<(i + length) where bytes[j] & 0xC0 != 0x80 {
            return nil
        }
        return length
    }

    /// The scalar value of the well-formed sequence starting at `i`, or nil.
    static func decode(in bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt32? {
        guard let length = length(in: bytes, at: i) else { return nil }
        let lead = UInt32(bytes[i])
        var value = length == 1 ? lead : lead & (0x7F >> UInt32(length))
        for j in (i + 1)..<(i + length) {
            value = value << 6 | UInt32(bytes[j] & 0x3F)
        }
        return value
    }

    /// `value` in upper-case hex, zero-padded to `digits`, after `prefix` ("U+00E9", "0xFF").
    static func hex(_ value: UInt32, digits: Int, prefix: String) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return prefix + String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
