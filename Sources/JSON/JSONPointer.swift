/// An RFC 6901 JSON pointer: a path of reference tokens from the root of a document.
///
/// Tokens are kept unescaped; `description` writes the RFC's string form ("" for the root,
/// otherwise "/" before each token, with "~" as "~0" and "/" as "~1"). Tokens compare by
/// Unicode scalars, like object keys. Pointers order token by token, a prefix first:
/// array indices (canonical decimal tokens) numerically and before any other token, other
/// tokens by Unicode scalars; sorted errors thus follow document order within arrays.
public struct JSONPointer: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The unescaped reference tokens, outermost first; empty for the root.
    public let tokens: [String]

    /// The pointer with the given unescaped tokens.
    public init(tokens: [String] = []) { self.tokens = tokens }

    /// The pointer to the whole document ("").
    public static let root = JSONPointer()

    /// True for the root pointer.
    public var isRoot: Bool { tokens.isEmpty }

    /// The pointer one level up, or nil for the root.
    public var parent: JSONPointer? { isRoot ? nil : JSONPointer(tokens: Array(tokens.dropLast())) }

    /// This pointer extended by an object member name.
    public func appending(_ key: String) -> JSONPointer { JSONPointer(tokens: tokens + [key]) }

    /// This pointer extended by an array index, written in decimal; pass indices ≥ 0.
    public func appending(_ index: Int) -> JSONPointer { appending(String(index)) }

    /// `pointer / "key"`: the same as `appending(_:)` with a member name.
    public static func / (pointer: JSONPointer, key: String) -> JSONPointer { pointer.appending(key) }

    /// `pointer / 3`: the same as `appending(_:)` with an array index.
    public static func / (pointer: JSONPointer, index: Int) -> JSONPointer { pointer.appending(index) }

    /// The RFC 6901 string form, e.g. "/data/x/0" or "/a~1b/m~0n".
    public var description: String {
        var text = ""
        for token in tokens {
            text += "/"
            for scalar in token.unicodeScalars {
                switch scalar {
                case "~": text += "~0"
                case "/": text += "~1"
                default: text.unicodeScalars.append(scalar)
                }
            }
        }
        return text
    }

    /// Reads the RFC 6901 string form; nil unless the text is empty or starts with "/" and
    /// every "~" is followed by "0" or "1".
    public init?(parsing text: String) {
        if text.isEmpty {
            self.init()
            return
        }
        guard text.utf8.first == UInt8(ascii: "/") else { return nil }
        var tokens: [String] = []
        for raw in text.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let token = Self.unescape(raw) else { return nil }
            tokens.append(token)
        }
        self.init(tokens: tokens)
    }

    /// The value this pointer designates in `document`, or nil when a member is missing, an
    /// index is not a canonical decimal (no sign, no leading zero) within the array, or a
    /// token meets a number, string, boolean or null. The token "-" (past the end) resolves
    /// to nil.
    public func resolve(in document: JSONValue) -> JSONValue? {
        var current = document
        for token in tokens {
            switch current {
            case let .object(object):
                guard let next = object[token] else { return nil }
                current = next
            case let .array(elements):
                guard let i = Self.arrayIndex(token), i < elements.count else { return nil }
                current = elements[i]
            default:
                return nil
            }
        }
        return current
    }

    /// Token-wise equality by Unicode scalars.
    public static func == (lhs: JSONPointer, rhs: JSONPointer) -> Bool {
        lhs.tokens.count == rhs.tokens.count && zip(lhs.tokens, rhs.tokens).allSatisfy(ScalarIdentity.equal)
    }

    /// Hashes the tokens' UTF-8 bytes, consistent with `==`.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(tokens.count)
        for token in tokens { ScalarIdentity.hash(token, into: &hasher) }
    }

    /// Document order: see the type's description.
    public static func < (lhs: JSONPointer, rhs: JSONPointer) -> Bool {
        for (a, b) in zip(lhs.tokens, rhs.tokens) {
            switch (arrayIndex(a), arrayIndex(b)) {
            case let (i?, j?) where i != j: return i < j
            case (_?, nil): return true
            case (nil, _?): return false
            case (nil, nil) where !ScalarIdentity.equal(a, b): return a.utf8.lexicographicallyPrecedes(b.utf8)
            default: continue
            }
        }
        return lhs.tokens.count < rhs.tokens.count
    }

    /// The index a token names: "0" or a decimal without leading zeros, small enough for `Int`.
    static func arrayIndex(_ token: String) -> Int? {
        let digits = token.utf8
        guard let first = digits.first, digits.count <= 18,
              digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              first != UInt8(ascii: "0") || digits.count == 1
        else { return nil }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    private static func unescape(_ raw: some Collection<UInt8>) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count)
        var escaped = false
        for byte in raw {
            if escaped {
                switch byte {
                case UInt8(ascii: "0"): bytes.append(UInt8(ascii: "~"))
                case UInt8(ascii: "1"): bytes.append(UInt8(ascii: "/"))
                default: return nil
                }
                escaped = false
            } else if byte == UInt8(ascii: "~") {
                escaped = true
            } else {
                bytes.append(byte)
            }
        }
        return escaped ? nil : String(decoding: bytes, as: UTF8.self)
    }
}
