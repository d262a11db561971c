/// A JSON value as read by `JSONParser`: the six kinds of RFC 8259.
///
/// Numbers are `Double`s (the parser rejects values that overflow it). Equality is structural:
/// strings and object keys compare by their Unicode scalars (not by Swift's canonical
/// equivalence, so "é" and "e\u{301}" differ, as they do in JSON text), object members compare in
/// order, and numbers compare with `Double`'s `==` (so `0` equals `-0`).
/// Equality, serialisation and deallocation recurse once per nesting level: keep values to the
/// depths the parser's limits allow.
public enum JSONValue: Equatable, Sendable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number, finite when it comes from the parser.
    case number(Double)
    /// A string of Unicode scalars (no lone surrogates).
    case string(String)
    /// An array, elements in order.
    case array([JSONValue])
    /// An object, members in order with unique keys.
    case object(JSONObject)

    /// Compares structurally: scalars by value, strings by Unicode scalars, containers in order.
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case let (.bool(a), .bool(b)): a == b
        case let (.number(a), .number(b)): a == b
        case let (.string(a), .string(b)): ScalarIdentity.equal(a, b)
        case let (.array(a), .array(b)): a == b
        case let (.object(a), .object(b)): a == b
        default: false
        }
    }
}

// MARK: - Accessors

extension JSONValue {
    /// The number, or nil for any other kind.
    public var asNumber: Double? {
        if case let .number(x) = self { x } else { nil }
    }

    /// The string, or nil for any other kind.
    public var asString: String? {
        if case let .string(s) = self { s } else { nil }
    }

    /// The elements, or nil for any other kind.
    public var asArray: [JSONValue]? {
        if case let .array(a) = self { a } else { nil }
    }

    /// The object, or nil for any other kind.
    public var asObject: JSONObject? {
        if case let .object(o) = self { o } else { nil }
    }

    /// The boolean, or nil for any other kind.
    public var asBool: Bool? {
        if case let .bool(b) = self { b } else { nil }
    }

    /// True exactly for `null`.
    public var isNull: Bool {
        if case .null = self { true } else { false }
    }

    /// The kind's name as users know it from JSON, for error messages: "null", "boolean",
    /// "number", "string", "array" or "object".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

// MARK: - Text

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text without whitespace; the parser reads it back to an equal value.
    ///
    /// Numbers use the shortest text that reads back to the same `Double`, integral values
    /// below 2^53 in magnitude without a fraction, `-0` as "-0"; non-finite numbers (which the
    /// parser never produces) are written as `null`. Strings escape `"`, `\` and control
    /// characters and keep every other scalar as UTF-8.
    public func serialized() -> String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.text
    }

    /// The same as `serialized()`.
    public var description: String { serialized() }
}

// MARK: - Literals

extension JSONValue: ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// `true` / `false` as `.bool`.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// An integer literal as `.number` (exact below 2^53 in magnitude).
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// A float literal as `.number`.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A string literal as `.string`.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array literal as `.array`.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// A dictionary literal as `.object`, members in the order written; a repeated key keeps its
    /// first position and its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}
