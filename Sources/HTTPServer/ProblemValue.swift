/// A JSON value, enough to write the members of a problem document (RFC 9457) without a
/// Foundation dependency in the server.
public enum ProblemValue: Sendable, Hashable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    /// A string, escaped when written.
    case string(String)
    /// An integer, written in decimal.
    case integer(Int)
    /// A finite number; a non-finite one is written as `null`, since JSON cannot hold it.
    case number(Double)
    /// `true` or `false`.
    case bool(Bool)
    /// `null`.
    case null
    /// An array, in order.
    case array([ProblemValue])
    /// An object; members are written in key order so that output is deterministic.
    case object([String: ProblemValue])

    /// A string from a literal.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An integer from a literal.
    public init(integerLiteral value: Int) { self = .integer(value) }
    /// A Boolean from a literal.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An array from a literal.
    public init(arrayLiteral elements: ProblemValue...) { self = .array(elements) }
    /// An object from a literal; of repeated keys, the last wins.
    public init(dictionaryLiteral elements: (String, ProblemValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// The value as compact JSON text.
    public var serialized: String {
        var output = ""
        write(to: &output)
        return output
    }

    /// Appends the value as compact JSON text to `output`.
    public func write(to output: inout String) {
        switch self {
        case .string(let string): ProblemValue.writeString(string, to: &output)
        case .integer(let integer): output += String(integer)
        case .number(let number): output += number.isFinite ? "\(number)" : "null"
        case .bool(let bool): output += bool ? "true" : "false"
        case .null: output += "null"
        case .array(let elements):
            output += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let members):
            ProblemValue.writeObject(members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }, to: &output)
        }
    }

    /// Appends an object with `members` in the given order.
    static func writeObject(_ members: [(key: String, value: ProblemValue)], to output: inout String) {
        output += "{"
        for (index, member) in members.enumerated() {
            if index > 0 { output += "," }
            writeString(member.key, to: &output)
            output += ":"
            member.value.write(to: &output)
        }
        output += "}"
    }

    /// Appends `string` as a JSON string literal (for writers that build JSON text by hand).
    public static func appendJSONString(_ string: String, to output: inout String) {
        writeString(string, to: &output)
    }

    /// Whether any byte of `string` is a quote, a backslash, a control or 0xE2.
    static func needsEscaping(_ string: String) -> Bool {
        func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            for b in bytes where b == 0x22 || b == 0x5C || b < 0x20 || b == 0xE2 { return true }
            return false
        }
        if let found = string.utf8.withContiguousStorageIfAvailable(scan) { return found }
        var copy = string
        return copy.withUTF8(scan)
    }

    /// Appends `string` as a JSON string literal, escaping quotes, backslashes and controls.
    /// A string with nothing to escape (the usual case: ids, names, paths) is appended whole;
    /// 0xE2 is the lead byte of U+2028 and U+2029, so any string that may hold them takes the
    /// scalar-by-scalar path.
    static func writeString(_ string: String, to output: inout String) {
        output += "\""
        if !needsEscaping(string) {
            output += string
            output += "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{0}"..."\u{1F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16, uppercase: true)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
