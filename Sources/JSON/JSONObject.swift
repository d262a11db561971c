/// A JSON object: members in document order, each key at most once, with lookup by key.
///
/// Keys compare by Unicode scalars (as in JSON text), not by Swift's canonical equivalence.
/// Lookup scans small objects and uses a hash index once an object has more than a handful of
/// members, so it is O(1) on average for large objects. Equality compares members in order.
public struct JSONObject: Equatable, Sendable {
    /// The members in document (or insertion) order; no key appears twice.
    public private(set) var members: [(key: String, value: JSONValue)] = []

    /// Position of each key in `members`; empty while the object is small enough to scan.
    private var index: [ScalarKey: Int] = [:]

    /// Objects with at most this many members are searched linearly and keep no index.
    private static let scanLimit = 8

    /// An empty object.
    public init() {}

    /// The keys in member order.
    public var keys: [String] { members.map(\.key) }

    /// The number of members.
    public var count: Int { members.count }

    /// True when the object has no members.
    public var isEmpty: Bool { members.isEmpty }

    /// The value stored under `key`, or nil. Setting a value replaces an existing member in
    /// place or appends a new one; setting nil removes the member (O(count)).
    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { members[$0].value } }
        set {
            switch (position(of: key), newValue) {
            case let (i?, value?): members[i].value = value
            case let (nil, value?): appendNew(key: key, value: value)
            case let (i?, nil): remove(at: i)
            case (nil, nil): break
            }
        }
    }

    /// True when a member is stored under `key`.
    func contains(_ key: String) -> Bool { position(of: key) != nil }

    /// Appends a member whose key the caller has checked is not present yet.
    mutating func appendNew(key: String, value: JSONValue) {
        members.append((key, value))
        if members.count > Self.scanLimit {
            if index.isEmpty { rebuildIndex() } else { index[ScalarKey(key)] = members.count - 1 }
        }
    }

    /// Compares members in order, keys by Unicode scalars.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { a, b in
                ScalarIdentity.equal(a.key, b.key) && a.value == b.value
            }
    }

    private func position(of key: String) -> Int? {
        if members.count > Self.scanLimit { return index[ScalarKey(key)] }
        return members.firstIndex { ScalarIdentity.equal($0.key, key) }
    }

    private mutating func remove(at i: Int) {
        members.remove(at: i)
        index = [:]
        if members.count > Self.scanLimit { rebuildIndex() }
    }

    private mutating func rebuildIndex() {
        index = Dictionary(uniqueKeysWithValues: members.indices.map { (ScalarKey(members[$0].key), $0) })
    }
}

extension JSONObject: CustomStringConvertible {
    /// Compact JSON text for the object, as `JSONValue.serialized()` writes it.
    public func serialized() -> String {
        var writer = JSONWriter()
        writer.write(self)
        return writer.text
    }

    /// The same as `serialized()`.
    public var description: String { serialized() }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// Members in the order written; a repeated key keeps its first position and its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }
}

/// A string hashed and compared by its UTF-8 bytes, for the object index.
private struct ScalarKey: Hashable, Sendable {
    let text: String

    init(_ text: String) { self.text = text }

    static func == (lhs: ScalarKey, rhs: ScalarKey) -> Bool { ScalarIdentity.equal(lhs.text, rhs.text) }

    func hash(into hasher: inout Hasher) { ScalarIdentity.hash(text, into: &hasher) }
}

/// String identity by Unicode scalars (equivalently, by UTF-8 bytes), which is how JSON text
/// distinguishes strings; Swift's `==` on `String` would merge canonically equivalent ones.
enum ScalarIdentity {
    /// True when both strings have the same UTF-8 bytes.
    static func equal(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }

    /// Feeds the string's UTF-8 bytes (and their count) to `hasher`.
    static func hash(_ s: String, into hasher: inout Hasher) {
        hasher.combine(s.utf8.count)
        let hashed: Void? = s.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            for byte in s.utf8 { hasher.combine(byte) }
        }
    }
}
