/// Writes JSON text: whole `JSONValue`s as compact text that `JSONParser` reads back to equal
/// values, and the pieces (string literals, numbers) that hand-written writers on hot paths
/// use. It is the project's one place that knows how JSON strings are escaped and numbers
/// are spelled.
public struct JSONWriter {
    /// The text written so far.
    public private(set) var text = ""

    /// A writer with no text yet.
    public init() {}

    /// Appends `value` as compact JSON text.
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: text += "null"
        case let .bool(b): text += b ? "true" : "false"
        case let .number(x): text += Self.numberText(x)
        case let .string(s): Self.appendString(s, to: &text)
        case let .array(elements):
            text += "["
            for (i, element) in elements.enumerated() {
                if i > 0 { text += "," }
                write(element)
            }
            text += "]"
        case let .object(object): write(object)
        }
    }

    /// Appends `object` as compact JSON text, members in order.
    public mutating func write(_ object: JSONObject) {
        text += "{"
        for (i, member) in object.members.enumerated() {
            if i > 0 { text += "," }
            Self.appendString(member.key, to: &text)
            text += ":"
            write(member.value)
        }
        text += "}"
    }

    /// The shortest text that reads back to `x`: integral values below 2^53 in magnitude as
    /// integers, `-0` as "-0", others as Swift's shortest round-trip representation (whose
    /// forms, such as "1e-05" or "1.5e+300", are valid JSON numbers); non-finite as `null`.
    public static func numberText(_ x: Double) -> String {
        guard x.isFinite else { return "null" }
        if x == 0 { return x.sign == .minus ? "-0" : "0" }
        if x.rounded(.towardZero) == x, x.magnitude < 0x1p53 { return String(Int64(x)) }
        let text = x.description
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// `x` as a JSON number that always shows it is a float: Swift's shortest round-trip
    /// representation, which keeps a fraction or an exponent ("1.0", "1e-05"), so that readers
    /// which type numbers by their text (Python's `json`) read a float; non-finite as `null`.
    /// For measurements (ELBOs, rates) whose type must not depend on their value.
    public static func floatText(_ x: Double) -> String {
        x.isFinite ? x.description : "null"
    }

    /// Appends `string` as a JSON string literal: `"`, `\` and control characters escaped
    /// (short forms where JSON has them, `\u00xx` otherwise), and U+2028 and U+2029 escaped
    /// too, so that the text stays one line for readers that split lines on them (JavaScript
    /// before ES2019, Python's `str.splitlines`). Every other scalar is kept as UTF-8.
    ///
    /// A string with nothing to escape (the usual case: ids, names, paths) is appended whole.
    public static func appendString(_ string: String, to output: inout String) {
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
            case "\u{8}": output += "\\b"
            case "\u{C}": output += "\\f"
            case "\u{0}"..."\u{1F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }

    /// `string` as a JSON string literal; see `appendString(_:to:)`.
    public static func quoted(_ string: String) -> String {
        var output = ""
        appendString(string, to: &output)
        return output
    }

    /// Whether any byte of `string` is a quote, a backslash, a control or 0xE2 (the lead byte
    /// of U+2028 and U+2029, so any string that may hold them takes the scalar-by-scalar path).
    static func needsEscaping(_ string: String) -> Bool {
        func scan(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            for b in bytes where b == 0x22 || b == 0x5C || b < 0x20 || b == 0xE2 { return true }
            return false
        }
        if let found = string.utf8.withContiguousStorageIfAvailable(scan) { return found }
        var copy = string
        return copy.withUTF8(scan)
    }
}
