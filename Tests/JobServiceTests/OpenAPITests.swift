import Testing
import Foundation
import HTTPServer
@testable import JobService

/// openapi.yaml describes exactly the routes the server serves (validated as OpenAPI 3.1 by
/// `make test`, with openapi-spec-validator).
@Suite struct OpenAPITests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../openapi.yaml").standardized

    /// (METHOD, path) pairs under `paths:` (two-space path keys, four-space method keys).
    static func documented() throws -> Set<String> {
        let text = try String(contentsOf: file, encoding: .utf8)
        var out: Set<String> = [], path: String?, inPaths = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("paths:") { inPaths = true; continue }
            if inPaths, let c = line.first, c != " " { inPaths = false }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") { path = String(line.dropFirst(2).dropLast()); continue }
            let trimmed = line.drop { $0 == " " }
            if line.hasPrefix("    "), !line.hasPrefix("     "), let p = path,
               let m = ["get", "post", "put", "delete", "patch"].first(where: { trimmed.hasPrefix("\($0):") }) {
                out.insert("\(m.uppercased()) \(p)")
            }
        }
        return out
    }

    @Test func everyServedRouteIsDocumentedAndViceVersa() throws {
        let manager = JobManager(configuration: .init(workers: 1))
        defer { manager.shutdown() }
        let router = JobAPI(manager: manager).router()
        let served = Set(router.routes.map { "\($0.method) \($0.pattern)" })
        let documented = try Self.documented()
        #expect(!documented.isEmpty)
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
    }
}
