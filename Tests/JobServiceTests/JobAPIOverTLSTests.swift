import Foundation
import HTTPServer
import Testing
@testable import JobService

/// The job API over HTTPS end to end: the same flow as the plain-HTTP test, through curl
/// trusting a self-signed certificate the `openssl` command makes in a temporary directory.
@Suite(.serialized) struct JobAPIOverTLSTests {
    @Test func theJobFlowRunsOverHTTPSWithSSEPollingAndCancel() throws {
        let fixture = try HTTPSFixture()
        defer { try? FileManager.default.removeItem(atPath: fixture.directory) }
        try JobAPITests.withLiveAPI(tls: fixture.context()) { _, server in
            let base = "https://localhost:\(server.port)"
            JobAPITests.jobFlow(base: base, client: fixture.request)

            // Poll only: submit, poll the resource until it finishes, fetch the result.
            let submitted = fixture.request("POST", "\(base)/v1/jobs", JobManagerTests.spec("normal_normal_reparam", steps: 200), [:])
            #expect(submitted.status == 202, "\(submitted)")
            let location = submitted.headers["Location"] ?? ""
            let deadline = Date().addingTimeInterval(30)
            var status = ""
            repeat {
                Thread.sleep(forTimeInterval: 0.05)
                status = fixture.request("GET", "\(base)\(location)", nil, [:]).body
            } while !status.contains("\"status\":\"succeeded\"") && Date() < deadline
            #expect(status.contains("\"status\":\"succeeded\""), "\(status)")
            let result = fixture.request("GET", "\(base)\(location)/result", nil, [:])
            #expect(result.status == 200 && result.body.contains("\"final_elbo\""))

            // Plain HTTP to the HTTPS port: closed without a response (curl: empty reply).
            #expect(fixture.curl(["http://127.0.0.1:\(server.port)/healthz"]).exitCode == 52)
            #expect(fixture.request("GET", "\(base)/healthz", nil, [:]).status == 200)
        }
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1, made with the `openssl` command,
/// and a blocking HTTPS client that runs curl trusting it.
struct HTTPSFixture {
    let directory: String
    let certificatePath: String
    let keyPath: String

    init() throws {
        directory = NSTemporaryDirectory() + "sviserve-https-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        certificatePath = directory + "/c.pem"
        keyPath = directory + "/k.pem"
        let made = Self.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", certificatePath,
                                                 "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        guard made.exitCode == 0 else { throw FixtureError(message: "openssl req exited \(made.exitCode)") }
    }

    struct FixtureError: Error {
        let message: String
    }

    func context() throws -> TLSContext {
        try TLSContext(certificateFile: certificatePath, keyFile: keyPath)
    }

    /// One request through curl; status 0 when curl fails.
    func request(_ method: String, _ url: String, _ body: [UInt8]?, _ headers: [String: String]) -> (status: Int, headers: [String: String], body: String) {
        var arguments = ["-i", "-X", method, "-H", "Expect:"]
        if let body {
            let path = directory + "/body-\(UUID().uuidString)"
            _ = FileManager.default.createFile(atPath: path, contents: Data(body))
            arguments += ["--data-binary", "@\(path)", "-H", "Content-Type: application/json"]
        }
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        let output = curl(arguments + [url])
        guard output.exitCode == 0, let split = output.text.range(of: "\r\n\r\n") else { return (0, [:], output.text) }
        var lines = output.text[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = lines.removeFirst().split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        var fields: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, fields, String(output.text[split.upperBound...]))
    }

    /// Runs curl over HTTP/1.1 trusting the fixture's certificate, with a bounded wait.
    func curl(_ arguments: [String]) -> (exitCode: Int32, text: String) {
        Self.run("/usr/bin/curl", ["-sS", "--http1.1", "--max-time", "60", "--cacert", certificatePath] + arguments)
    }

    private static func run(_ executable: String, _ arguments: [String]) -> (exitCode: Int32, text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
