import Foundation

/// The API keys the service accepts, held only as SHA-256 digests. With no keys configured
/// every caller is the same anonymous owner; with keys, every `/v1` route needs
/// `Authorization: Bearer <key>` and a job belongs to (and is visible only to) the key that
/// created it. Keys are never logged; comparison is constant-time.
public struct APIKeys: Sendable {
    let digests: [[UInt8]]

    /// No keys: authentication off.
    public static let none = APIKeys(digests: [])

    /// Keys given in clear (a keys file, one per line, `#` comments; or an environment
    /// variable, comma-separated), digested at once.
    public init(keys: [String]) {
        digests = keys.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }.map { Digest.sha256(Array($0.utf8)) }
    }

    init(digests: [[UInt8]]) { self.digests = digests }

    /// Reads a keys file.
    public init(file: String) throws {
        self.init(keys: try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init))
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
