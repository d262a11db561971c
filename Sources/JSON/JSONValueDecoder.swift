/// Builds a `Decodable` value from a `JSONValue` (or from JSON text, read by `JSONParser`):
/// the reverse of ``JSONValueEncoder``'s mapping, so what it wrote — and what Foundation's
/// `JSONEncoder` wrote with `.sortedKeys` and the same non-finite strings — reads back equal,
/// doubles bit for bit (the parser reads the shortest round-trip text exactly).
///
/// Doubles accept the strings `"Infinity"`, `"-Infinity"` and `"NaN"`; integers accept a
/// number that is integral and in the type's range, or a string of decimal digits (how the
/// encoder writes integers beyond ±2^53). Missing keys and mismatched kinds throw
/// `DecodingError`s with the coding path.
public struct JSONValueDecoder {
    /// A decoder with the mapping above.
    public init() {}

    /// Bounds for text this service wrote itself (stored results and checkpoints, messages
    /// between its processes): the nesting of the default, no bound on sizes.
    public static let ownText = JSONLimits(maxBytes: .max, maxStringBytes: .max, maxArrayLength: .max, maxMembers: .max)

    /// The `T` that `value` encodes.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try T(from: TreeDecoder(value, codingPath: []))
    }

    /// The `T` that the JSON text `bytes` encodes.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: some Collection<UInt8>, limits: JSONLimits = ownText) throws -> T {
        try decode(type, from: JSONParser.parse(bytes, limits: limits))
    }
}

/// The `Decoder` over one `JSONValue`.
struct TreeDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSONValue, codingPath: [any CodingKey]) {
        self.value = value
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .object(object) = value else { throw Self.mismatch(JSONObject.self, value, codingPath) }
        return KeyedDecodingContainer(KeyedTreeDecoder<Key>(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case let .array(elements) = value else { throw Self.mismatch([JSONValue].self, value, codingPath) }
        return UnkeyedTreeDecoder(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueTreeDecoder(value: value, codingPath: codingPath)
    }

    /// `value` as a `T` of one of JSON's own kinds, or nil when `T` is another type.
    static func leaf<T>(_ type: T.Type, _ value: JSONValue, _ path: [any CodingKey]) throws -> T? {
        switch type {
        case is Double.Type: return try double(value, path) as? T
        case is Float.Type: return Float(try double(value, path)) as? T
        case is String.Type:
            guard case let .string(s) = value else { throw Self.mismatch(String.self, value, path) }
            return s as? T
        case is Bool.Type:
            guard case let .bool(b) = value else { throw Self.mismatch(Bool.self, value, path) }
            return b as? T
        case is Int.Type: return try integer(Int.self, value, path) as? T
        case is Int64.Type: return try integer(Int64.self, value, path) as? T
        case is UInt64.Type: return try integer(UInt64.self, value, path) as? T
        case is Int32.Type: return try integer(Int32.self, value, path) as? T
        case is UInt32.Type: return try integer(UInt32.self, value, path) as? T
        case is UInt.Type: return try integer(UInt.self, value, path) as? T
        case is Int16.Type: return try integer(Int16.self, value, path) as? T
        case is UInt16.Type: return try integer(UInt16.self, value, path) as? T
        case is Int8.Type: return try integer(Int8.self, value, path) as? T
        case is UInt8.Type: return try integer(UInt8.self, value, path) as? T
        default: return nil
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ value: JSONValue, _ path: [any CodingKey]) throws -> T {
        if let leaf = try leaf(type, value, path) { return leaf }
        return try T(from: TreeDecoder(value, codingPath: path))
    }

    static func double(_ value: JSONValue, _ path: [any CodingKey]) throws -> Double {
        switch value {
        case let .number(x): return x
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        case .string("NaN"): return .nan
        default: throw mismatch(Double.self, value, path)
        }
    }

    static func integer<I: FixedWidthInteger>(_ type: I.Type, _ value: JSONValue, _ path: [any CodingKey]) throws -> I {
        switch value {
        case let .number(x):
            guard let i = I(exactly: x) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\(JSONWriter.numberText(x)) is not a \(I.self)"))
            }
            return i
        case let .string(s):
            guard let i = I(s) else { throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "\"\(s)\" is not a \(I.self)")) }
            return i
        default: throw mismatch(I.self, value, path)
        }
    }

    static func mismatch(_ type: Any.Type, _ value: JSONValue, _ path: [any CodingKey]) -> DecodingError {
        .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(value.typeName)"))
    }
}

private struct KeyedTreeDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let object: JSONObject
    let codingPath: [any CodingKey]

    var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

    private func value(_ key: Key) throws -> JSONValue {
        guard let v = object[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no member \"\(key.stringValue)\""))
        }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key).isNull }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try TreeDecoder.decode(type, value(key), codingPath + [key]) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try TreeDecoder(value(key), codingPath: codingPath + [key]).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try TreeDecoder(value(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        TreeDecoder(object["super"] ?? .null, codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        TreeDecoder(object[key.stringValue] ?? .null, codingPath: codingPath + [key])
    }
}

private struct UnkeyedTreeDecoder: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    /// The next element and its path; the index advances only once the element is decoded.
    private func next(_ type: Any.Type) throws -> (JSONValue, [any CodingKey]) {
        let path = codingPath + [IndexKey(currentIndex)]
        guard !isAtEnd else { throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "the array has no more elements")) }
        return (elements[currentIndex], path)
    }

    mutating func decodeNil() throws -> Bool {
        let (v, _) = try next(JSONValue.self)
        if v.isNull { currentIndex += 1 }
        return v.isNull
    }

    mutating func decode(_ type: Double.Type) throws -> Double {
        let (v, path) = try next(type)
        defer { currentIndex += 1 }
        return try TreeDecoder.double(v, path)
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let (v, path) = try next(type)
        let decoded = try TreeDecoder.decode(type, v, path)
        currentIndex += 1
        return decoded
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let (v, path) = try next(JSONObject.self)
        let container = try TreeDecoder(v, codingPath: path).container(keyedBy: type)
        currentIndex += 1
        return container
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (v, path) = try next([JSONValue].self)
        let container = try TreeDecoder(v, codingPath: path).unkeyedContainer()
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let (v, path) = try next(JSONValue.self)
        currentIndex += 1
        return TreeDecoder(v, codingPath: path)
    }
}

private struct SingleValueTreeDecoder: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value.isNull }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try TreeDecoder.decode(type, value, codingPath) }
}
