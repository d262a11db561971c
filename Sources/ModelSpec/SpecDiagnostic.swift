import JSON
/// One problem found in a job spec: where (an RFC 6901 pointer into the submitted JSON) and a
/// sentence that says what to change. The API returns these as `errors: [{pointer, message}]`.
public struct SpecDiagnostic: Error, Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let pointer: String
    public let message: String
    public init(pointer: String, message: String) { self.pointer = pointer; self.message = message }
    public var description: String { "\(pointer.isEmpty ? "/" : pointer): \(message)" }
}

/// Every problem found in one pass over a spec; thrown when there is at least one.
public struct SpecErrors: Error, Equatable, Sendable, CustomStringConvertible {
    public let diagnostics: [SpecDiagnostic]
    public init(_ diagnostics: [SpecDiagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Collects diagnostics while a spec is read, so validation reports every problem at once.
final class Diagnostics {
    private(set) var all: [SpecDiagnostic] = []
    /// Beyond this many, further problems are summarised (a hostile spec cannot make the
    /// error list itself unbounded).
    let limit = 200

    func report(_ pointer: JSONPointer, _ message: String) {
        guard all.count < limit else { return }
        all.append(SpecDiagnostic(pointer: pointer.description, message: message))
        if all.count == limit {
            all.append(SpecDiagnostic(pointer: "", message: "more than \(limit) problems; fix these first"))
        }
    }

    var isEmpty: Bool { all.isEmpty }
    var count: Int { all.count }

    /// Takes back the problems reported after the first `count` (a trial evaluation's).
    func takeBack(after count: Int) -> [SpecDiagnostic] {
        defer { all.removeSubrange(count...) }
        return Array(all[count...])
    }

    /// Reports problems taken back earlier.
    func restore(_ problems: [SpecDiagnostic]) { all += problems.prefix(max(0, limit + 1 - all.count)) }

    func throwIfAny() throws(SpecErrors) {
        if !all.isEmpty { throw SpecErrors(all) }
    }
}
