import Foundation
import Testing

/// A `sviserve serve` child process on a loopback port over a data directory, with the JSON
/// log lines it has written — for tests that crash, stop and restart the real service.
final class ServiceProcess: @unchecked Sendable {
    // @unchecked: `lines` and `partial` are touched only under `lock`.
    let process = Process()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = Data()
    private(set) var port = 0

    /// The `sviserve` binary built beside this test bundle.
    static var binary: URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sviserve"),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("sviserve"),
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/release/sviserve").standardized,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[2]
    }

    /// Starts the service (with `environment` added to this process's) and waits (up to 20 s)
    /// until it listens.
    init(dataDirectory: String, port requested: Int = 0, arguments: [String] = [], environment: [String: String] = [:]) throws {
        process.executableURL = Self.binary
        process.arguments = ["serve", "--host", "127.0.0.1", "--port", String(requested), "--data-dir", dataDirectory, "--workers", "2"] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.received(handle.availableData) }
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && process.isRunning {
            if let line = logLines().first(where: { $0.contains(#""event":"listening""#) }),
               let match = line.firstMatch(of: /"port":(\d+)/), let p = Int(match.1) {
                port = p
                return
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        throw ServiceProcessError.didNotStart(logLines().joined(separator: "\n"))
    }

    enum ServiceProcessError: Error { case didNotStart(String) }

    /// Runs `sviserve` with `arguments` (and `environment` added) to its exit, bounded by 20 s:
    /// its exit status (nil if it had to be killed) and what it wrote to standard error.
    static func exit(arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32?, stderr: String) {
        let run = try complete(arguments: arguments, environment: environment)
        return (run.status, run.stderr)
    }

    /// Runs `executable` (built beside `sviserve`) with `arguments` (and `environment` added) to
    /// its exit, bounded by `seconds`: its exit status (nil if it had to be killed) and what it
    /// wrote to standard output and standard error.
    static func complete(_ executable: String = "sviserve", arguments: [String], environment: [String: String] = [:],
                         seconds: Double = 20) throws -> (status: Int32?, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = binary.deletingLastPathComponent().appendingPathComponent(executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let files = ["out", "err"].map { FileManager.default.temporaryDirectory.appendingPathComponent("sviserve-\($0)-\(UUID().uuidString)") }
        for file in files { _ = FileManager.default.createFile(atPath: file.path, contents: nil) }
        defer { for file in files { try? FileManager.default.removeItem(at: file) } }
        process.standardOutput = try FileHandle(forWritingTo: files[0])
        process.standardError = try FileHandle(forWritingTo: files[1])
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        let status: Int32? = process.isRunning ? nil : process.terminationStatus
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        let text = files.map { (try? String(contentsOf: $0, encoding: .utf8)) ?? "" }
        return (status, text[0], text[1])
    }

    /// The service's resident set now and at its peak (`VmRSS`, `VmHWM` of /proc), in bytes.
    var memory: (resident: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        func kilobytes(_ field: String) -> Int {
            status.split(separator: "\n").first { $0.hasPrefix(field + ":") }
                .flatMap { Int($0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") } ?? 0
        }
        return (kilobytes("VmRSS") << 10, kilobytes("VmHWM") << 10)
    }

    private func received(_ data: Data) {
        lock.lock(); defer { lock.unlock() }
        partial.append(data)
        while let newline = partial.firstIndex(of: 0x0A) {
            lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
            partial.removeSubrange(partial.startIndex...newline)
        }
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// The log lines so far.
    func logLines() -> [String] { lock.lock(); defer { lock.unlock() }; return lines }

    /// `kill -9`: no chance to checkpoint or flush anything.
    func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits up to `timeout` seconds; the exit status (nil if it did not exit)
    /// and how long it took.
    func terminate(timeout: TimeInterval = 30) -> (status: Int32?, seconds: Double) {
        let start = Date()
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning && Date().timeIntervalSince(start) < timeout { Thread.sleep(forTimeInterval: 0.01) }
        let seconds = Date().timeIntervalSince(start)
        guard !process.isRunning else { crash(); return (nil, seconds) }
        Thread.sleep(forTimeInterval: 0.05)
        return (process.terminationStatus, seconds)
    }

    deinit { if process.isRunning { crash() } }
}
