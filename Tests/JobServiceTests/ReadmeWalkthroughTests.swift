import Foundation
import Testing

/// The README's curl walkthrough, run by bash against a fresh service from the repository root —
/// verbatim but for the port: the README's 8080 becomes the free port the service was given, so
/// the suite never collides with a service (or another suite) already on 8080.
@Suite struct ReadmeWalkthroughTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// The shell block between the README's walkthrough markers.
    static func walkthrough() throws -> String {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- walkthrough -->\n```\n"))
        let end = try #require(readme.range(of: "```\n<!-- /walkthrough -->", range: start.upperBound..<readme.endIndex))
        return String(readme[start.upperBound..<end.lowerBound])
    }

    @Test func theWalkthroughWorksVerbatimAgainstAFreshStart() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory)
        defer { _ = service.terminate() }
        let script = try Self.walkthrough()
        #expect(script.contains("127.0.0.1:8080/"), "the walkthrough names the README's port")
        let bash = Process()
        bash.executableURL = URL(fileURLWithPath: "/bin/bash")
        bash.arguments = ["-e", "-o", "pipefail", "-c", script.replacingOccurrences(of: "127.0.0.1:8080/", with: "127.0.0.1:\(service.port)/")]
        bash.currentDirectoryURL = Self.root
        let out = Pipe()
        bash.standardOutput = out
        try bash.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        bash.waitUntilExit()
        #expect(bash.terminationStatus == 0)
        #expect(text.contains("event: result"), "the stream ends with the result event")
        #expect(text.contains(#""final_elbo""#) && text.contains(#""posterior""#), "the result")
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.contains(#""status":"cancelled""#), "the long job ends cancelled: \(last)")
    }
}
