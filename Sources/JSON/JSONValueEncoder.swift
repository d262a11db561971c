/// Turns an `Encodable` value into a `JSONValue`, so that `Codable` types are written by
/// `JSONWriter` like every other JSON the project produces (one escaping, one number spelling).
///
/// The mapping is Foundation's `JSONEncoder` with `.sortedKeys` and a string strategy for
/// non-finite numbers, so text it wrote earlier (stored results, checkpoints) reads back the
/// same:
/// - object members sorted by the UTF-8 bytes of their keys;
/// - `nil` optionals left out (`encodeIfPresent`), an explicit `encodeNil` as `null`;
/// - non-finite doubles as the strings `"Infinity"`, `"-Infinity"` and `"NaN"`;
/// - integers beyond ±2^53, which a JSON number (a double) cannot hold exactly, as strings of
///   their decimal digits (as protobuf's JSON mapping does for 64-bit integers);
/// - a `Float` by its own shortest text (0.1f is written `0.1`).
///
/// Binary data has no JSON form here: a type that carries bytes encodes them itself (base64).
public struct JSONValueEncoder {
    /// An encoder with the mapping above.
    public init() {}

    /// `value` as a JSON value.
    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = EncodedNode()
        try value.encode(to: TreeEncoder(root, codingPath: []))
        return root.value
    }

    /// `value` as compact JSON text (`JSONWriter`).
    public func text<T: Encodable>(_ value: T) throws -> String {
        try encode(value).serialized()
    }

    /// The JSON value of a double: finite numbers as numbers, the others as strings.
    static func value(_ x: Double) -> JSONValue {
        if x.isFinite { return .number(x) }
        return .string(x.isNaN ? "NaN" : x < 0 ? "-Infinity" : "Infinity")
    }

    /// The JSON value of an integer: a number while a double holds it exactly, else its digits.
    static func value<I: BinaryInteger>(_ i: I) -> JSONValue {
        i.magnitude <= 1 << 53 ? .number(Double(i)) : .string(String(i))
    }
}

/// One value being encoded: a leaf, or an object or array whose members are still open (a
/// container may be handed out before its members are written). Leaf members and elements are
/// stored as values, so an array of a million doubles is a million enum cases, not nodes.
final class EncodedNode {
    enum Kind { case leaf, object, array }
    enum Slot {
        case value(JSONValue)
        case node(EncodedNode)

        var value: JSONValue {
            switch self {
            case let .value(v): v
            case let .node(n): n.value
            }
        }
    }

    private(set) var kind = Kind.leaf
    /// The value of a leaf (an encoder that writes nothing leaves `{}`, as `JSONEncoder` does).
    private var leaf = JSONValue.object(JSONObject())
    private var members: [String: Slot] = [:]
    private var elements: [Slot] = []

    /// The finished value, object members sorted by the UTF-8 bytes of their keys.
    var value: JSONValue {
        switch kind {
        case .leaf: return leaf
        case .array: return .array(elements.map(\.value))
        case .object:
            var object = JSONObject()
            for key in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                object.appendNew(key: key, value: members[key]!.value)
            }
            return .object(object)
        }
    }

    /// Makes this node a leaf holding `value`.
    func set(_ value: JSONValue) {
        kind = .leaf; leaf = value; members = [:]; elements = []
    }

    /// Makes this node an object, keeping the members written so far.
    func makeObject() {
        if kind != .object { kind = .object; elements = [] }
    }

    /// Makes this node an array, keeping the elements written so far.
    func makeArray() {
        if kind != .array { kind = .array; members = [:] }
    }

    /// Sets the member `key` to a value.
    func set(_ value: JSONValue, forKey key: String) {
        makeObject()
        members[key] = .value(value)
    }

    /// Adds (or replaces) the member `key` with an open node and returns it.
    func member(_ key: String) -> EncodedNode {
        makeObject()
        let node = EncodedNode()
        members[key] = .node(node)
        return node
    }

    /// Appends a value.
    func append(_ value: JSONValue) {
        makeArray()
        elements.append(.value(value))
    }

    /// Appends an open node and returns it.
    func append() -> EncodedNode {
        makeArray()
        let node = EncodedNode()
        elements.append(.node(node))
        return node
    }

    /// Elements so far (0 unless this node is an array).
    var count: Int { elements.count }
}

/// The `Encoder` that writes into an ``EncodedNode``.
struct TreeEncoder: Encoder {
    let node: EncodedNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ node: EncodedNode, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        node.makeObject()
        return KeyedEncodingContainer(KeyedTreeEncoder<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        node.makeArray()
        return UnkeyedTreeEncoder(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueTreeEncoder(node: node, codingPath: codingPath)
    }

    /// The leaf value of a value of one of JSON's own kinds (nil for any other type).
    static func leaf<T: Encodable>(_ value: T) -> JSONValue? {
        switch value {
        case let x as Double: JSONValueEncoder.value(x)
        case let x as Float: JSONValueEncoder.value(Double("\(x)") ?? Double(x))
        case let s as String: .string(s)
        case let b as Bool: .bool(b)
        case let i as Int: JSONValueEncoder.value(i)
        case let i as Int64: JSONValueEncoder.value(i)
        case let i as UInt64: JSONValueEncoder.value(i)
        case let i as Int32: JSONValueEncoder.value(i)
        case let i as UInt32: JSONValueEncoder.value(i)
        case let i as UInt: JSONValueEncoder.value(i)
        case let i as Int16: JSONValueEncoder.value(i)
        case let i as UInt16: JSONValueEncoder.value(i)
        case let i as Int8: JSONValueEncoder.value(i)
        case let i as UInt8: JSONValueEncoder.value(i)
        default: nil
        }
    }
}

private struct KeyedTreeEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: EncodedNode
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { node.set(.null, forKey: key.stringValue) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if let leaf = TreeEncoder.leaf(value) { return node.set(leaf, forKey: key.stringValue) }
        try value.encode(to: TreeEncoder(node.member(key.stringValue), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        TreeEncoder(node.member(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        TreeEncoder(node.member(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        TreeEncoder(node.member("super"), codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        TreeEncoder(node.member(key.stringValue), codingPath: codingPath + [key])
    }
}

private struct UnkeyedTreeEncoder: UnkeyedEncodingContainer {
    let node: EncodedNode
    let codingPath: [any CodingKey]
    var count: Int { node.count }

    private var nextPath: [any CodingKey] { codingPath + [IndexKey(node.count)] }

    mutating func encodeNil() throws { node.append(.null) }
    // Arrays of doubles (parameters, moments) are most of a checkpoint: no dynamic cast.
    mutating func encode(_ value: Double) throws { node.append(JSONValueEncoder.value(value)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let leaf = TreeEncoder.leaf(value) { return node.append(leaf) }
        let path = nextPath
        try value.encode(to: TreeEncoder(node.append(), codingPath: path))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        return TreeEncoder(node.append(), codingPath: path).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        return TreeEncoder(node.append(), codingPath: path).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder {
        let path = nextPath
        return TreeEncoder(node.append(), codingPath: path)
    }
}

private struct SingleValueTreeEncoder: SingleValueEncodingContainer {
    let node: EncodedNode
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.set(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let leaf = TreeEncoder.leaf(value) { return node.set(leaf) }
        try value.encode(to: TreeEncoder(node, codingPath: codingPath))
    }
}

/// The coding key of an array element.
struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}
