import JSON
import Testing
import Foundation
import HTTPServer
import ModelSpec
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

    static let begin = "    # BEGIN job-spec schema", end = "    # END job-spec schema"

    /// The JobSpec definitions openapi.yaml must carry: each `$defs` entry of the served schema
    /// as one line of compact JSON (which YAML reads as a flow mapping), `#/$defs/` references
    /// pointing at `#/components/schemas/`.
    static func schemaLines() throws -> [String] {
        let schema = try JSONParser.parse(JobSpecSchema.json)
        let defs = try #require(schema.asObject?["$defs"]?.asObject)
        func rewrite(_ v: JSONValue) -> JSONValue {
            switch v {
            case let .object(o):
                var out = JSONObject()
                for (k, x) in o.members {
                    if k == "$ref", case let .string(ref) = x {
                        out[k] = .string(ref.replacingOccurrences(of: "#/$defs/", with: "#/components/schemas/"))
                    } else {
                        out[k] = rewrite(x)
                    }
                }
                return .object(out)
            case let .array(a): return .array(a.map(rewrite))
            default: return v
            }
        }
        return defs.members.map { "    \($0.key): \(rewrite($0.value).serialized())" }
    }

    @Test func theSpecSchemasAreTheServedSchemasDefinitions() throws {
        let text = try String(contentsOf: Self.file, encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix(Self.begin) })
        let stop = try #require(lines.firstIndex { $0.hasPrefix(Self.end) })
        let firstDefinition = lines[start..<stop].firstIndex { !$0.hasPrefix("    #") } ?? stop
        let documented = Array(lines[firstDefinition..<stop])
        let expected = try Self.schemaLines()
        if documented != expected, ProcessInfo.processInfo.environment["SVISERVE_UPDATE_OPENAPI"] != nil {
            lines.replaceSubrange(firstDefinition..<stop, with: expected)
            try lines.joined(separator: "\n").write(to: Self.file, atomically: true, encoding: .utf8)
            return
        }
        #expect(documented == expected, "openapi.yaml's JobSpec schemas differ from GET /v1/schema's; rerun with SVISERVE_UPDATE_OPENAPI=1")
    }
}
