import Foundation

/// The API keys the service accepts, held only as SHA-256 digests. With no keys configured
/// every caller is the same anonymous owner; with keys, every `/v1` route needs
/// `Authorization: Bearer <key>` and a job belongs to (and is visible only to) the key that
/// created it. Keys are never logged; comparison is constant-time.
///
/// Fail-closed: a keys file or variable that was given but yields no key is an error, never
/// "authentication off" — an empty secret mount or a mistyped variable must stop the service,
/// not open it.
public struct APIKeys: Sendable {
    let digests: [[UInt8]]

    /// No keys: authentication off.
    public static let none = APIKeys(digests: [])

    /// Keys given in clear, digested at once: each trimmed of surrounding whitespace (a CR of
    /// a CRLF line ending included); empty entries and `#` comments are skipped.
    public init(keys: [String]) {
        digests = Self.entries(keys).map { Digest.sha256(Array($0.utf8)) }
    }

    init(digests: [[UInt8]]) { self.digests = digests }

    /// Reads a keys file: one key per line (LF or CRLF), `#` comment lines.
    ///
    /// - Throws: ``ConfigurationError`` when the file cannot be read or holds no key.
    public init(file: String) throws(ConfigurationError) {
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw ConfigurationError("the keys file \(file) cannot be read: \(error.localizedDescription)")
        }
        try self.init(required: text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init),
                      source: "the keys file \(file)")
    }

    /// Reads a comma-separated list (the `SVISERVE_API_KEYS` variable), named `source` in errors.
    ///
    /// - Throws: ``ConfigurationError`` when it holds no key.
    public init(list: String, source: String) throws(ConfigurationError) {
        try self.init(required: list.split(separator: ",").map(String.init), source: source)
    }

    private init(required entries: [String], source: String) throws(ConfigurationError) {
        self.init(keys: entries)
        guard isEnabled else {
            throw ConfigurationError("\(source) holds no API key (only empty entries or comments): refusing to serve without the keys it was asked for; give at least one key, or neither the file nor the variable to run without keys")
        }
    }

    /// The keys among `entries`: trimmed, without empty entries and comments.
    static func entries(_ entries: [String]) -> [String] {
        entries.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    public var isEnabled: Bool { !digests.isEmpty }

    /// The owner a request acts as: the key's digest in hex, "" when keys are off, nil when
    /// the request must be refused with 401.
    public func owner(authorization: String?) -> String? {
        guard isEnabled else { return "" }
        guard let header = authorization, header.lowercased().hasPrefix("bearer ") else { return nil }
        let digest = Digest.sha256(Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8))
        var match = false
        for d in digests where Digest.equal(d, digest) { match = true }
        return match ? Digest.sha256Hex(digest) : nil
    }
}

/// A setting the service cannot start with, and why (`serve` prints it and exits).
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
