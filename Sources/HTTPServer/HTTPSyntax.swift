/// Byte classes of the HTTP/1.1 grammar (RFC 9110 §5.6, RFC 9112, RFC 3986), as used by the
/// parser. Each predicate is exactly the grammar rule it names, nothing more lenient.
enum HTTPSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let comma: UInt8 = 0x2C
    static let percent: UInt8 = 0x25
    static let plus: UInt8 = 0x2B
    static let slash: UInt8 = 0x2F
    static let questionMark: UInt8 = 0x3F
    static let asterisk: UInt8 = 0x2A
    static let ampersand: UInt8 = 0x26
    static let equals: UInt8 = 0x3D

    /// `tchar` (RFC 9110 §5.6.2): the characters of a token such as a method or field name.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
             UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// `OWS` (RFC 9110 §5.6.3): a space or horizontal tab.
    static func isOptionalWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// A byte allowed inside a field value (RFC 9110 §5.5): `VCHAR`, `obs-text`, space and
    /// horizontal tab. Every other control character, and DEL, is refused.
    static func isFieldValueCharacter(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    /// A byte allowed in an origin-form request target (RFC 3986 `pchar`, `/`, `?`), where `%`
    /// is checked separately as the start of a percent-encoded octet.
    static func isTargetCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
             UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="), UInt8(ascii: ":"),
             UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "%"):
            return true
        default:
            return false
        }
    }

    /// A byte allowed in a `Host` field value (RFC 3986 `host [":" port]`): unreserved,
    /// sub-delimiters except `,`, `%`, `:` and the IP-literal brackets. The comma is refused
    /// because it is how intermediaries join two Host fields into one line.
    static func isHostCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","):
            return false
        case UInt8(ascii: "["), UInt8(ascii: "]"):
            return true
        default:
            return isTargetCharacter(byte) && byte != slash && byte != questionMark && byte != UInt8(ascii: "@")
        }
    }

    /// The value of a hexadecimal digit, or `nil` for any other byte.
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte &- UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte &- UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    /// Whether `byte` is an ASCII decimal digit.
    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// ASCII lower-casing; other bytes are returned unchanged.
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    /// Whether two byte strings are equal ignoring ASCII case, as field names and coding names
    /// are compared (RFC 9110 §5.1, §8.4.1).
    static func equalsIgnoringASCIICase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { lowercased($0) == lowercased($1) }
    }

    /// `bytes` without leading and trailing `OWS`.
    static func trimmingOptionalWhitespace(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard let first = bytes.firstIndex(where: { !isOptionalWhitespace($0) }) else { return bytes[bytes.endIndex...] }
        let last = bytes.lastIndex(where: { !isOptionalWhitespace($0) })!
        return bytes[first...last]
    }

    /// The elements of a comma-separated list (RFC 9110 §5.6.1), each without surrounding `OWS`.
    /// Empty elements are kept so that callers which must refuse them can see them.
    static func listElements(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(separator: comma, omittingEmptySubsequences: false).map(trimmingOptionalWhitespace)
    }

    /// Decodes `bytes` as ISO-8859-1, which maps every byte to one character and so never
    /// fails; field values are ASCII in practice and `obs-text` survives unchanged.
    static func latin1String<C: Collection<UInt8>>(_ bytes: C) -> String {
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: bytes.map { Unicode.Scalar($0) })
        return String(scalars)
    }
}
