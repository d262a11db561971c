import CProcess
import Foundation
import HTTPServer

/// The program a job runs in: an executable and its arguments (`sviserve worker` by default,
/// the running binary itself). Its environment is the server's without the service's own
/// variables (API keys among them), with allocation arenas and BLAS threads held to one and
/// the crash backtracer off.
public struct WorkerCommand: Sendable {
    public var executable: String
    public var arguments: [String]

    public init(executable: String, arguments: [String] = ["worker"]) {
        self.executable = executable; self.arguments = arguments
    }

    /// This process's own executable run as `worker` — or, when this process is not `sviserve`
    /// (a test bundle embedding the service), the `sviserve` built beside it.
    public static var current: WorkerCommand {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        guard (me as NSString).lastPathComponent != "sviserve" else { return WorkerCommand(executable: me) }
        let sibling = ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("sviserve")
        return WorkerCommand(executable: FileManager.default.isExecutableFile(atPath: sibling) ? sibling : me)
    }

    /// The environment a worker gets.
    var environment: [String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SVISERVE_") }
        environment["SWIFT_BACKTRACE"] = "enable=no"
        environment["MALLOC_ARENA_MAX"] = "1"
        environment["OPENBLAS_NUM_THREADS"] = "1"
        return environment.map { "\($0.key)=\($0.value)" }
    }
}

/// How a worker process ended.
struct WorkerExit: Sendable, Equatable {
    /// The exit status, when it exited.
    var status: Int32?
    /// The signal that ended it, when one did.
    var signal: Int32?
    /// CPU seconds it used (user and system).
    var cpuSeconds: Double
    /// The end of what it wrote to standard error (at most 4 KiB).
    var stderr: String

    /// Why a worker that ended without finishing its job stopped, in words for the job's error:
    /// its memory or CPU limit, the trap's message, the signal.
    func reason(memoryLimit: Int?, cpuLimit: Int?) -> String {
        let lines = stderr.split(separator: "\n").map(String.init)
        let fatal = lines.last { $0.contains("Fatal error") || $0.contains("fatal error") }
        let memoryWords = ["failed to allocate", "Could not allocate", "Cannot allocate memory", "out of memory", "bad_alloc"]
        if let memoryLimit, memoryWords.contains(where: stderr.contains) {
            return "the worker exceeded its memory limit of \(memoryLimit >> 20) MiB" + (fatal.map { " (\($0))" } ?? "")
        }
        if let signal {
            if signal == SIGXCPU || (signal == SIGKILL && cpuLimit.map { cpuSeconds >= Double($0) } == true) {
                return "the worker exceeded its CPU time limit of \(cpuLimit ?? 0) s"
            }
            let name = Self.signalNames[signal] ?? "signal \(signal)"
            if let fatal { return "the worker crashed (\(name)): \(fatal)" }
            if signal == SIGKILL { return "the worker was killed (SIGKILL: the kernel's out-of-memory killer, or an operator)" }
            return "the worker crashed (\(name)\(Self.trapSignals.contains(signal) ? ": a trap, such as a failed check in the engine" : ""))"
        }
        let last = lines.last { !$0.isEmpty }
        return "the worker exited with status \(status ?? -1) without finishing the job" + (last.map { ": \($0)" } ?? "")
    }

    /// Signals a Swift trap raises (a failed precondition, an overflow, `fatalError`).
    static let trapSignals: Set<Int32> = [SIGILL, SIGTRAP]

    static let signalNames: [Int32: String] = [
        SIGILL: "SIGILL", SIGTRAP: "SIGTRAP", SIGABRT: "SIGABRT", SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE",
        SIGKILL: "SIGKILL", SIGTERM: "SIGTERM", SIGXCPU: "SIGXCPU", SIGPIPE: "SIGPIPE",
    ]
}

/// Why a worker could not be started.
struct WorkerSpawnError: Error, CustomStringConvertible {
    let description: String
}

/// One running worker process, seen from the server: its pid, the channel to it, the end of its
/// standard error, and how it ended. Started with its kernel limits already set: address space
/// (`RLIMIT_AS`), CPU seconds (`RLIMIT_CPU`, SIGXCPU then SIGKILL five seconds later), no
/// core files, and a nice value of 10, so that the server answers first when cores are scarce.
final class WorkerProcess: @unchecked Sendable {
    // @unchecked: `tail` is behind its lock; the rest is immutable after init.
    let pid: pid_t
    let channel: WorkerChannel
    private let toWorker: Int32
    private let fromWorker: Int32
    private let errors: Int32
    private let tail = Locked<[UInt8]>([])
    private let tailDone = DispatchSemaphore(value: 0)

    /// Starts `command` with its standard streams on pipes and its limits set before it is
    /// given any work.
    init(_ command: WorkerCommand, memoryBytes: Int, cpuSeconds: Int) throws(WorkerSpawnError) {
        var input: [Int32] = [0, 0], output: [Int32] = [0, 0], error: [Int32] = [0, 0]
        guard sviserve_pipe(&input) == 0 else { throw WorkerSpawnError(description: "no pipe: \(String(cString: strerror(errno)))") }
        guard sviserve_pipe(&output) == 0 else {
            close(input[0]); close(input[1])
            throw WorkerSpawnError(description: "no pipe: \(String(cString: strerror(errno)))")
        }
        guard sviserve_pipe(&error) == 0 else {
            [input[0], input[1], output[0], output[1]].forEach { close($0) }
            throw WorkerSpawnError(description: "no pipe: \(String(cString: strerror(errno)))")
        }
        let argv = ([command.executable] + command.arguments).map { strdup($0) } + [nil]
        let envp = command.environment.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        let pid = sviserve_spawn(command.executable, argv, envp, input[0], output[1], error[1])
        [input[0], output[1], error[1]].forEach { close($0) }
        guard pid > 0 else {
            [input[1], output[0], error[0]].forEach { close($0) }
            throw WorkerSpawnError(description: "cannot start \(command.executable): \(String(cString: strerror(-pid)))")
        }
        self.pid = pid
        toWorker = input[1]; fromWorker = output[0]; errors = error[0]
        channel = WorkerChannel(reading: fromWorker, writing: toWorker)
        #if !SANITIZED_WORKERS
        _ = sviserve_set_limit(pid, Int32(RLIMIT_AS.rawValue), UInt64(memoryBytes), UInt64(memoryBytes))
        #endif
        _ = sviserve_set_limit(pid, Int32(RLIMIT_CPU.rawValue), UInt64(cpuSeconds), UInt64(cpuSeconds) + 5)
        _ = sviserve_set_limit(pid, Int32(RLIMIT_CORE.rawValue), 0, 0)
        // Jobs are batch work: the server's own threads (requests, health checks) come first.
        _ = sviserve_set_nice(pid, 10)
        let reader = Thread { [self] in readErrors() }
        reader.name = "sviserve-worker-stderr"
        reader.start()
    }

    private func readErrors() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(errors, $0.baseAddress, $0.count) }
            if n > 0 {
                tail.withLock { tail in
                    tail.append(contentsOf: chunk[..<n])
                    if tail.count > 8192 { tail.removeFirst(tail.count - 4096) }
                }
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(errors)
        tailDone.signal()
    }

    /// Whether the process has ended (it is not reaped until ``wait()``).
    var hasExited: Bool { sviserve_has_exited(pid) != 0 }

    /// Ends the process at once (SIGKILL to its process group).
    func kill() {
        _ = Glibc.kill(-pid, SIGKILL)
        _ = Glibc.kill(pid, SIGKILL)
    }

    /// Closes the server's side of the pipes and waits for the process to end.
    func wait() -> WorkerExit {
        close(toWorker)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        close(fromWorker)
        _ = tailDone.wait(timeout: .now() + 2)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        // WIFEXITED / WTERMSIG, which Swift does not import as macros.
        let signal = status & 0x7f
        let exited = signal == 0
        return WorkerExit(status: exited ? (status >> 8) & 0xff : nil, signal: exited ? nil : signal, cpuSeconds: cpu,
                          stderr: String(decoding: tail.withLock { $0.suffix(4096) }, as: UTF8.self))
    }
}
