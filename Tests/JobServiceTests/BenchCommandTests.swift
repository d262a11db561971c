import Foundation
import JSON
import Testing

/// `sviserve bench` with no files and `sviserve-bench` report the same rows, in the same
/// order, run as the executables a user runs (BenchmarkRowsTests holds the shared list and
/// each row's spec to its builder program; this holds the two reports to the list).
@Suite struct BenchCommandTests {
    static let rows = ["normal_normal_replay", "normal_normal_reparam",
                       "logreg_N1000_D10_reparam_p1", "logreg_N1000_D10_omt_p1", "logreg_N1000_D10_avf_p1",
                       "logreg_N10000_D50_reparam_p1", "logreg_N10000_D50_omt_p1", "logreg_N1000_D10_reparam_p16",
                       "gmm_N500_K3_relaxed_st", "gmm_N500_K3_score"]

    /// The members of the report's top-level object, in order, and their `steps_per_s`.
    static func report(_ text: String) throws -> [(name: String, rate: Double?)] {
        guard case let .object(top) = try JSONParser.parse(text) else { return [] }
        return top.members.map { member in
            guard case let .object(fields) = member.value, case let .number(rate)? = fields["steps_per_s"] else { return (member.key, nil) }
            return (member.key, rate)
        }
    }

    @Test func theCommandAndTheBenchmarkReportTheSameRows() throws {
        let command = try ServiceProcess.complete(arguments: ["bench", "--seconds", "0.01"], seconds: 120)
        #expect(command.status == 0)
        let commandRows = try Self.report(command.stdout)
        #expect(commandRows.map(\.name) == Self.rows)
        #expect(commandRows.allSatisfy { ($0.rate ?? 0) > 0 })

        // The benchmark executable is not built under ThreadSanitizer (Package.swift), where
        // the command's rows are held to the list alone.
        let benchmark = ServiceProcess.binary.deletingLastPathComponent().appendingPathComponent("sviserve-bench")
        guard FileManager.default.isExecutableFile(atPath: benchmark.path) else { return }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bench-report-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let engine = try ServiceProcess.complete("sviserve-bench", arguments: [file, "0.01"], seconds: 120)
        #expect(engine.status == 0)
        let engineRows = try Self.report(engine.stdout)
        #expect(engineRows.map(\.name) == Self.rows + ["environment"])
        #expect(engineRows.dropLast().allSatisfy { ($0.rate ?? 0) > 0 })
        #expect(try Self.report(String(contentsOfFile: file, encoding: .utf8)).map(\.name) == engineRows.map(\.name))
    }
}
