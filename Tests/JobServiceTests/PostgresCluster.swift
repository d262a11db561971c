import Foundation
@testable import JobService

/// A throwaway PostgreSQL server for the tests: Debian's `postgresql` binaries make a cluster
/// (`initdb`) in a temporary directory and run it on a free port of 127.0.0.1, once per test
/// process, and each test gets a database of its own. Nothing is mocked. As root (containers,
/// CI) the server runs as `nobody`, since PostgreSQL refuses to run as root.
///
/// The server is stopped, and its directory removed, when the test process ends however it
/// ends: a shell holds it with its standard input on a pipe from this process, and when the
/// pipe closes (the kernel closes it at exit, crash included) it stops the server and cleans up.
/// A test can stop the server for a while (``pause()``, ``resume()``) on a cluster of its own.
/// `SVISERVE_TEST_DATABASE_URL` (a server's maintenance database, e.g. `postgres://postgres@host/postgres`)
/// points the tests at a running server instead.
final class PostgresCluster: @unchecked Sendable {
    // @unchecked: every property is set once in `init`; `keepAlive` is only held.
    /// The maintenance database's URL (databases are created through it).
    let adminURL: String
    /// The server's address and port.
    let host: String, port: Int
    /// The directory of the cluster (nil when the server is not ours).
    let directory: String?
    /// The write end of the pipe the server's shell waits on.
    private let keepAlive: FileHandle?
    /// The server's process (nil when the server is not ours).
    let process: Process?

    /// The cluster of this test process, started on first use.
    static let shared: PostgresCluster = {
        do { return try PostgresCluster() } catch { fatalError("the tests' PostgreSQL server did not start: \(error)") }
    }()

    /// A cluster of the caller's own (for a test that stops its database), ended with the process.
    static func own() throws -> PostgresCluster {
        guard ProcessInfo.processInfo.environment["SVISERVE_TEST_DATABASE_URL"] == nil else {
            throw Failure(description: "a test that stops its database needs a cluster of its own (unset SVISERVE_TEST_DATABASE_URL)")
        }
        return try PostgresCluster()
    }

    /// Stops the server (a fast shutdown: connections are cut) until ``resume()``.
    func pause() throws {
        guard let directory else { throw Failure(description: "not our server") }
        _ = FileManager.default.createFile(atPath: "\(directory)/paused", contents: nil)
        let pid = (try? String(contentsOfFile: "\(directory)/pid", encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if let pid { kill(pid, SIGINT) }
        let deadline = Date().addingTimeInterval(30)
        while (try? PostgresConnection(url: adminURL)) != nil && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// Starts the server again after ``pause()`` and waits until it accepts connections.
    func resume() throws {
        guard let directory else { throw Failure(description: "not our server") }
        try FileManager.default.removeItem(atPath: "\(directory)/paused")
        try waitUntilAccepting()
    }

    private func waitUntilAccepting() throws {
        let deadline = Date().addingTimeInterval(30)
        while (try? PostgresConnection(url: adminURL)) == nil {
            guard Date() < deadline, process?.isRunning ?? true else {
                let log = directory.flatMap { try? String(contentsOfFile: "\($0)/server.log", encoding: .utf8) } ?? ""
                throw Failure(description: "PostgreSQL did not accept connections on port \(port) within 30 s: \(log.suffix(2000))")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    private init() throws {
        if let url = ProcessInfo.processInfo.environment["SVISERVE_TEST_DATABASE_URL"], !url.isEmpty {
            adminURL = url; directory = nil; keepAlive = nil; process = nil
            let components = URLComponents(string: url)
            host = components?.host ?? "127.0.0.1"; port = components?.port ?? 5432
            return
        }
        let bin = try Self.binaries()
        let directory = NSTemporaryDirectory() + "sviserve-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        // PostgreSQL refuses root: the cluster belongs to nobody, which runs initdb and the server.
        let drop = asRoot ? "setpriv --reuid=nobody --regid=nogroup --clear-groups " : ""
        if asRoot { try Self.run("/bin/chown", ["nobody:nogroup", directory]) }
        try Self.run("/bin/sh", ["-c", "\(drop)\(bin)/initdb -D '\(directory)/data' -U postgres --auth=trust --no-sync -E UTF8 --no-locale > '\(directory)/initdb.log' 2>&1"])
        let port = try Self.freePort()
        // fsync off: a crash of the test machine loses a test cluster, nothing else.
        let server = "\(bin)/postgres -D '\(directory)/data' -p \(port) -k '\(directory)' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        // The server runs again after each stop unless `stop` exists; while `paused` exists it
        // waits (a database outage); the end of standard input stops it for good (read through
        // fd 3: a background list's own standard input is /dev/null).
        let script = """
            D='\(directory)'
            exec 3<&0
            ( cat <&3 > /dev/null; touch "$D/stop"; kill -INT "$(cat "$D/pid")" 2>/dev/null ) &
            while [ ! -e "$D/stop" ]; do
              while [ -e "$D/paused" ] && [ ! -e "$D/stop" ]; do sleep 0.1; done
              [ -e "$D/stop" ] && break
              \(drop)\(server) >> "$D/server.log" 2>&1 &
              echo $! > "$D/pid"
              wait $!
            done
            rm -rf "$D"
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let pipe = Pipe()
        process.standardInput = pipe
        // The shell inherits this thread's signal mask, and test threads block SIGCHLD, with
        // which the shell's `wait` would never return: it starts with every signal unblocked.
        var none = sigset_t(), previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
        // Children the tests start later must not hold the server's pipe open past this process.
        _ = fcntl(pipe.fileHandleForWriting.fileDescriptor, F_SETFD, FD_CLOEXEC)
        self.directory = directory; self.process = process; keepAlive = pipe.fileHandleForWriting
        self.host = "127.0.0.1"; self.port = port
        adminURL = "postgres://postgres@127.0.0.1:\(port)/postgres"
        try waitUntilAccepting()
    }

    /// The newest installed server's binaries (Debian: /usr/lib/postgresql/<major>/bin).
    static func binaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let majors = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let major = majors.last(where: { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/initdb") }) else {
            throw Failure(description: "no PostgreSQL server under \(root) (Debian's postgresql package; `make deps` installs it)")
        }
        return "\(root)/\(major)/bin"
    }

    private static func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) exited \(process.terminationStatus)") }
    }

    /// A port nothing listens on now (the kernel's choice for an ephemeral bind).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure(description: "no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A new, empty database of its own; returns its URL.
    func newDatabase() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        let admin = try PostgresConnection(url: adminURL)
        try admin.execute("CREATE DATABASE \(name)")
        var components = URLComponents(string: adminURL)!
        components.path = "/\(name)"
        return components.string!
    }
}
