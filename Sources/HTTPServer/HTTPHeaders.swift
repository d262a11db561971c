/// One field line of a header section: a name and its value (RFC 9110 §5).
public struct HTTPField: Sendable, Hashable {
    /// The field name exactly as the client spelled it; compare it ignoring ASCII case.
    public var name: String
    /// The field value without leading or trailing whitespace. Bytes outside ASCII are decoded
    /// as ISO-8859-1 so that no value is ever rejected or altered for its encoding.
    public var value: String

    /// Creates a field.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// The header fields of a request, in the order they were received.
///
/// Order and repetition are kept, because both matter for list-valued fields; lookups by name
/// ignore ASCII case, as field names are case-insensitive (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    /// The fields in received order.
    public private(set) var fields: [HTTPField]

    /// Creates headers from fields in order.
    public init(_ fields: [HTTPField] = []) {
        self.fields = fields
    }

    /// Creates headers from `name: value` pairs in order (repeated names are kept).
    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { HTTPField(name: $0.0, value: $0.1) }
    }

    /// The position of the first field.
    public var startIndex: Int { fields.startIndex }
    /// The position after the last field.
    public var endIndex: Int { fields.endIndex }
    /// The field at `position`.
    public subscript(position: Int) -> HTTPField { fields[position] }

    /// Appends a field after the existing ones.
    public mutating func append(name: String, value: String) {
        fields.append(HTTPField(name: name, value: value))
    }

    /// Removes every field named `name` (ignoring case).
    public mutating func remove(name: String) {
        fields.removeAll { Self.name($0.name, matches: name) }
    }

    /// Replaces every field named `name` (ignoring case) by one field with `value`, appended
    /// after the others.
    public mutating func set(name: String, value: String) {
        remove(name: name)
        append(name: name, value: value)
    }

    /// The value of the first field named `name` (ignoring case), or `nil` if there is none.
    public subscript(name: String) -> String? {
        fields.first { Self.name($0.name, matches: name) }?.value
    }

    /// The values of every field named `name` (ignoring case), in received order.
    public func values(named name: String) -> [String] {
        fields.filter { Self.name($0.name, matches: name) }.map(\.value)
    }

    /// Whether any field is named `name` (ignoring case).
    public func contains(name: String) -> Bool {
        fields.contains { Self.name($0.name, matches: name) }
    }

    /// The comma-separated list elements of every field named `name` (RFC 9110 §5.6.1),
    /// trimmed and lower-cased, empty elements dropped: the form of `Connection`-like fields.
    public func lowercasedListElements(named name: String) -> [String] {
        values(named: name).flatMap { value in
            HTTPSyntax.listElements(ArraySlice(value.utf8)).filter { !$0.isEmpty }
                .map { String(decoding: $0.map(HTTPSyntax.lowercased), as: UTF8.self) }
        }
    }

    private static func name(_ candidate: String, matches name: String) -> Bool {
        HTTPSyntax.equalsIgnoringASCIICase(candidate.utf8, name.utf8)
    }
}
