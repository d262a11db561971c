/// Reads JSON text strictly by RFC 8259 into a `JSONValue`, or says precisely why it cannot.
///
/// Accepted: exactly one value surrounded by optional whitespace (space, tab, LF, CR only), in
/// UTF-8 without a byte order mark. Refused: trailing commas, comments, single quotes, NaN and
/// Infinity, leading zeros, "+" signs, unescaped control characters, unknown escapes, lone
/// surrogates (escaped or encoded), invalid UTF-8, duplicate object keys, numbers that overflow
/// a `Double`, and anything beyond `JSONLimits`. Numbers are correctly rounded to the nearest
/// `Double` (underflow rounds to subnormals or zero). The reader is iterative, so no input can
/// exhaust the stack; time and memory are linear in the input.
public enum JSONParser {
    /// Parses `bytes` as one JSON document (UTF-8).
    ///
    /// Throws `JSONParseError` with the position and a message for the first problem found;
    /// a document longer than `limits.maxBytes` is refused before it is read, at offset 0.
    public static func parse(_ bytes: some Collection<UInt8>, limits: JSONLimits = .default) throws(JSONParseError) -> JSONValue {
        let count = bytes.count
        guard count <= limits.maxBytes else {
            throw JSONParseError(
                message: "document of \(count) bytes is larger than \(limits.maxBytes) bytes",
                offset: 0, line: 1, column: 1, limit: .maxBytes)
        }
        if let result = bytes.withContiguousStorageIfAvailable({ parse(buffer: $0, limits: limits) }) {
            return try result.get()
        }
        return try Array(bytes).withUnsafeBufferPointer { parse(buffer: $0, limits: limits) }.get()
    }

    /// Parses the UTF-8 form of `text` as one JSON document; see `parse(_:limits:)` for bytes.
    public static func parse(_ text: String, limits: JSONLimits = .default) throws(JSONParseError) -> JSONValue {
        try parse(text.utf8, limits: limits)
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>, limits: JSONLimits) -> Result<JSONValue, JSONParseError> {
        var reader = JSONReader(input: buffer, limits: limits)
        return Result { () throws(JSONParseError) -> JSONValue in try reader.document() }
    }
}

/// The state of one parse: a position in the input and the stack of open containers.
///
/// Containers under construction live on explicit stacks (`arrays`, `objects`, and `keys` for
/// the member each open object is reading), so nesting costs heap, not call stack.
struct JSONReader {
    private enum Container { case array, object }

    private let input: UnsafeBufferPointer<UInt8>
    private let limits: JSONLimits
    private var pos = 0
    private var containers: [Container] = []
    private var arrays: [[JSONValue]] = []
    private var objects: [JSONObject] = []
    private var keys: [String] = []
    /// Decoded bytes of a string that contains escapes.
    private var scratch: [UInt8] = []

    init(input: UnsafeBufferPointer<UInt8>, limits: JSONLimits) {
        self.input = input
        self.limits = limits
    }

    /// Reads the whole input as one value followed only by whitespace.
    mutating func document() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        values: while true {
            var value: JSONValue
            guard pos < input.count else { throw expected("a value") }
            switch input[pos] {
            case UInt8(ascii: "["):
                try open(.array)
                if pos < input.count, input[pos] == UInt8(ascii: "]") {
                    pos += 1
                    value = .array(closeArray())
                } else {
                    try beginElement()
                    continue values
                }
            case UInt8(ascii: "{"):
                try open(.object)
                if pos < input.count, input[pos] == UInt8(ascii: "}") {
                    pos += 1
                    value = .object(closeObject())
                } else {
                    try memberKey(expecting: "a string key or '}' after '{'")
                    continue values
                }
            case UInt8(ascii: "\""):
                value = .string(try string())
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = .number(try number())
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                value = try literal()
            default:
                throw expected("a value")
            }
            // The value is complete: add it to its container; a closing bracket completes that
            // container, which is added to its own, and so on.
            while true {
                guard let container = containers.last else { return try end(after: value) }
                skipWhitespace()
                switch container {
                case .array:
                    arrays[arrays.count - 1].append(value)
                    guard pos < input.count else { throw expected("',' or ']' after an array element") }
                    switch input[pos] {
                    case UInt8(ascii: ","):
                        try comma(before: UInt8(ascii: "]"))
                        try beginElement()
                        continue values
                    case UInt8(ascii: "]"):
                        pos += 1
                        value = .array(closeArray())
                    default:
                        throw expected("',' or ']' after an array element")
                    }
                case .object:
                    objects[objects.count - 1].appendNew(key: keys.removeLast(), value: value)
                    guard pos < input.count else { throw expected("',' or '}' after an object member") }
                    switch input[pos] {
                    case UInt8(ascii: ","):
                        try comma(before: UInt8(ascii: "}"))
                        try memberKey(expecting: "a string key after ','")
                        continue values
                    case UInt8(ascii: "}"):
                        pos += 1
                        value = .object(closeObject())
                    default:
                        throw expected("',' or '}' after an object member")
                    }
                }
            }
        }
    }

    // MARK: - Structure

    /// Opens a container at the bracket under `pos` and moves past it and any whitespace.
    private mutating func open(_ container: Container) throws(JSONParseError) {
        guard containers.count < limits.maxDepth else {
            throw error("nesting deeper than \(limits.maxDepth) levels", at: pos, limit: .maxDepth)
        }
        containers.append(container)
        switch container {
        case .array: arrays.append([])
        case .object: objects.append(JSONObject())
        }
        pos += 1
        skipWhitespace()
    }

    private mutating func closeArray() -> [JSONValue] {
        containers.removeLast()
        return arrays.removeLast()
    }

    private mutating func closeObject() -> JSONObject {
        containers.removeLast()
        return objects.removeLast()
    }

    /// Checks that the innermost array may take one more element, which starts at `pos`.
    private func beginElement() throws(JSONParseError) {
        guard arrays[arrays.count - 1].count < limits.maxArrayLength else {
            throw error("array longer than \(limits.maxArrayLength) elements", at: pos, limit: .maxArrayLength)
        }
    }

    /// Moves past the comma under `pos` and whitespace; a closing bracket next is refused.
    private mutating func comma(before closing: UInt8) throws(JSONParseError) {
        let comma = pos
        pos += 1
        skipWhitespace()
        if pos < input.count, input[pos] == closing {
            throw error("trailing comma before '\(Character(Unicode.Scalar(closing)))'", at: comma)
        }
    }

    /// Reads a member's key, checks it is new, and moves past the ':' and whitespace after it.
    private mutating func memberKey(expecting expectation: String) throws(JSONParseError) {
        guard pos < input.count, input[pos] == UInt8(ascii: "\"") else { throw expected(expectation) }
        let start = pos
        guard objects[objects.count - 1].count < limits.maxMembers else {
            throw error("object with more than \(limits.maxMembers) members", at: start, limit: .maxMembers)
        }
        let key = try string()
        guard !objects[objects.count - 1].contains(key) else {
            throw error("duplicate key '\(Self.abbreviated(key))'", at: start)
        }
        keys.append(key)
        skipWhitespace()
        guard pos < input.count, input[pos] == UInt8(ascii: ":") else { throw expected("':' after an object key") }
        pos += 1
        skipWhitespace()
    }

    /// Returns the top-level value once only whitespace follows it.
    private mutating func end(after value: JSONValue) throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        guard pos == input.count else { throw expected("end of input after the top-level value") }
        return value
    }

    private mutating func skipWhitespace() {
        while pos < input.count {
            switch input[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    // MARK: - Scalars

    /// Reads `true`, `false` or `null`; any other word is refused whole.
    private mutating func literal() throws(JSONParseError) -> JSONValue {
        let start = pos
        var end = pos
        while end < input.count, Self.isWordByte(input[end]) { end += 1 }
        let word = input[start..<end]
        let value: JSONValue
        if word.elementsEqual("true".utf8) {
            value = .bool(true)
        } else if word.elementsEqual("false".utf8) {
            value = .bool(false)
        } else if word.elementsEqual("null".utf8) {
            value = .null
        } else {
            let shown = Self.abbreviated(String(decoding: word, as: UTF8.self))
            throw error("invalid literal '\(shown)'; expected true, false or null", at: start)
        }
        pos = end
        return value
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    /// Exact powers of ten for the fast path of `number()`.
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Reads a number by the RFC grammar `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    ///
    /// When the digits form an integer m ≤ 2^53 and the decimal exponent e satisfies |e| ≤ 22,
    /// m and 10^|e| are exact doubles and one IEEE multiplication or division rounds the result
    /// correctly (Clinger's fast path). Other numbers go through `Double(String)` on the lexeme,
    /// which rounds correctly too.
    private mutating func number() throws(JSONParseError) -> Double {
        let start = pos
        var i = pos
        let negative = input[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var mantissa: UInt64 = 0
        var exact = true
        var fractionDigits = 0

        func accumulate(_ byte: UInt8) {
            guard exact else { return }
            let next = mantissa &* 10 &+ UInt64(byte &- UInt8(ascii: "0"))
            if next > 1 << 53 { exact = false } else { mantissa = next }
        }

        guard i < input.count, Self.isDigit(input[i]) else {
            throw expected("a digit after '-'", at: i)
        }
        if input[i] == UInt8(ascii: "0") {
            i += 1
            if i < input.count, Self.isDigit(input[i]) { throw error("leading zeros are not allowed", at: start) }
        } else {
            while i < input.count, Self.isDigit(input[i]) {
                accumulate(input[i])
                i += 1
            }
        }
        if i < input.count, input[i] == UInt8(ascii: ".") {
            i += 1
            guard i < input.count, Self.isDigit(input[i]) else { throw expected("a digit after the decimal point", at: i) }
            while i < input.count, Self.isDigit(input[i]) {
                accumulate(input[i])
                fractionDigits += 1
                i += 1
            }
        }
        var exponent = 0
        if i < input.count, input[i] == UInt8(ascii: "e") || input[i] == UInt8(ascii: "E") {
            i += 1
            var exponentNegative = false
            if i < input.count, input[i] == UInt8(ascii: "+") || input[i] == UInt8(ascii: "-") {
                exponentNegative = input[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < input.count, Self.isDigit(input[i]) else { throw expected("a digit in the exponent", at: i) }
            while i < input.count, Self.isDigit(input[i]) {
                exponent = min(exponent * 10 + Int(input[i] - UInt8(ascii: "0")), 1_000_000)
                i += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        guard i - start <= limits.maxNumberBytes else {
            throw error("number longer than \(limits.maxNumberBytes) characters", at: start, limit: .maxNumberBytes)
        }
        pos = i
        let scale = exponent - fractionDigits
        if exact, scale >= -22, scale <= 22 {
            let m = Double(mantissa)
            let magnitude = scale < 0 ? m / Self.powersOfTen[-scale] : m * Self.powersOfTen[scale]
            return negative ? -magnitude : magnitude
        }
        let lexeme = String(decoding: UnsafeBufferPointer(rebasing: input[start..<i]), as: UTF8.self)
        guard let value = Double(lexeme), value.isFinite else { throw error("number out of range", at: start) }
        return value
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    // MARK: - Strings

    /// Reads the string whose opening quote is under `pos`.
    private mutating func string() throws(JSONParseError) -> String {
        let open = pos
        var i = pos + 1
        while i < input.count {
            let byte = input[i]
            if byte == UInt8(ascii: "\"") {
                guard i - open - 1 <= limits.maxStringBytes else { throw stringTooLong(at: open) }
                pos = i + 1
                return String(decoding: UnsafeBufferPointer(rebasing: input[(open + 1)..<i]), as: UTF8.self)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return try escapedString(openedAt: open, resumingAt: i) }
            i += byte < 0x80 ? 1 : try scalarLength(at: i)
        }
        throw error("unterminated string", at: open)
    }

    /// Continues reading a string at the first escape or control character, decoding into
    /// `scratch`.
    private mutating func escapedString(openedAt open: Int, resumingAt resume: Int) throws(JSONParseError) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: input[(open + 1)..<resume])
        var i = resume
        while i < input.count {
            let byte = input[i]
            switch byte {
            case UInt8(ascii: "\""):
                pos = i + 1
                return String(decoding: scratch, as: UTF8.self)
            case UInt8(ascii: "\\"):
                i = try escape(at: i, openedAt: open)
            case ..<0x20:
                throw error("unescaped \(describe(at: i)) in string", at: i)
            case ..<0x80:
                scratch.append(byte)
                i += 1
            default:
                let length = try scalarLength(at: i)
                scratch.append(contentsOf: input[i..<(i + length)])
                i += length
            }
            guard scratch.count <= limits.maxStringBytes else { throw stringTooLong(at: open) }
        }
        throw error("unterminated string", at: open)
    }

    /// Decodes the escape whose backslash is at `i` into `scratch`; returns the index after it.
    private mutating func escape(at i: Int, openedAt open: Int) throws(JSONParseError) -> Int {
        guard i + 1 < input.count else { throw error("unterminated string", at: open) }
        let simple: UInt8
        switch input[i + 1] {
        case UInt8(ascii: "\""): simple = 0x22
        case UInt8(ascii: "\\"): simple = 0x5C
        case UInt8(ascii: "/"): simple = 0x2F
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "r"): simple = 0x0D
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "u"): return try unicodeEscape(at: i, openedAt: open)
        case 0x20...0x7E:
            throw error("invalid escape '\\\(Character(Unicode.Scalar(input[i + 1])))'", at: i)
        default:
            throw error("invalid escape: '\\' followed by \(describe(at: i + 1))", at: i)
        }
        scratch.append(simple)
        return i + 2
    }

    /// Decodes `\uXXXX`, or a surrogate pair `\uD8xx\uDCxx`, whose backslash is at `i`.
    private mutating func unicodeEscape(at i: Int, openedAt open: Int) throws(JSONParseError) -> Int {
        let unit = try hexQuad(at: i, openedAt: open)
        var scalar = unit
        var next = i + 6
        switch unit {
        case 0xD800...0xDBFF:
            guard next + 1 < input.count, input[next] == UInt8(ascii: "\\"), input[next + 1] == UInt8(ascii: "u") else {
                throw loneSurrogate(at: i)
            }
            let low = try hexQuad(at: next, openedAt: open)
            guard (0xDC00...0xDFFF).contains(low) else { throw loneSurrogate(at: i) }
            scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            next += 6
        case 0xDC00...0xDFFF:
            throw loneSurrogate(at: i)
        default:
            break
        }
        appendUTF8(scalar)
        return next
    }

    /// The four hex digits after the `\u` whose backslash is at `i`.
    private func hexQuad(at i: Int, openedAt open: Int) throws(JSONParseError) -> UInt32 {
        var value: UInt32 = 0
        for j in (i + 2)..<(i + 6) {
            guard j < input.count else { throw error("unterminated string", at: open) }
            let byte = input[j]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid escape: '\\u' must be followed by four hex digits", at: i)
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case ..<0x80:
            scratch.append(UInt8(scalar))
        case ..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case ..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// The length of the well-formed UTF-8 sequence for a non-ASCII scalar starting at `i`.
    private func scalarLength(at i: Int) throws(JSONParseError) -> Int {
        guard let length = UTF8Scalar.length(in: input, at: i) else {
            throw error("invalid UTF-8 in string (byte \(UTF8Scalar.hex(UInt32(input[i]), digits: 2, prefix: "0x")))", at: i)
        }
        return length
    }

    // MARK: - Errors

    private func error(_ message: String, at offset: Int, limit: JSONLimits.Name? = nil) -> JSONParseError {
        JSONParseError(message, at: offset, in: input, limit: limit)
    }

    /// "expected <what>, found <what is at offset>".
    private func expected(_ what: String, at offset: Int? = nil) -> JSONParseError {
        let offset = offset ?? pos
        return error("expected \(what), found \(describe(at: offset))", at: offset)
    }

    private func stringTooLong(at open: Int) -> JSONParseError {
        error("string longer than \(limits.maxStringBytes) bytes", at: open, limit: .maxStringBytes)
    }

    private func loneSurrogate(at i: Int) -> JSONParseError {
        let written = String(decoding: input[i..<(i + 6)], as: UTF8.self)
        return error("lone surrogate '\(written)' in string", at: i)
    }

    /// What the input holds at `offset`, for messages: "end of input", "'x'", "control
    /// character U+0009", "byte order mark U+FEFF", "U+00E9" or "invalid UTF-8 byte 0xFF".
    private func describe(at offset: Int) -> String {
        guard offset < input.count else { return "end of input" }
        let byte = input[offset]
        switch byte {
        case UInt8(ascii: "'"):
            return "\"'\""
        case 0x20...0x7E:
            return "'\(Character(Unicode.Scalar(byte)))'"
        case ..<0x80:
            return "control character \(UTF8Scalar.hex(UInt32(byte), digits: 4, prefix: "U+"))"
        default:
            guard let scalar = UTF8Scalar.decode(in: input, at: offset) else {
                return "invalid UTF-8 byte \(UTF8Scalar.hex(UInt32(byte), digits: 2, prefix: "0x"))"
            }
            let code = UTF8Scalar.hex(scalar, digits: 4, prefix: "U+")
            return scalar == 0xFEFF ? "byte order mark \(code)" : code
        }
    }

    /// `text`, cut to 40 characters with an ellipsis, for quoting user input in messages.
    private static func abbreviated(_ text: String) -> String {
        text.count <= 40 ? text : String(text.prefix(40)) + "…"
    }
}
