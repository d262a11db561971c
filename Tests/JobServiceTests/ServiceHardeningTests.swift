import Foundation
import Testing
@testable import JobService
import ModelSpec

/// One raw HTTP/1.1 exchange on a fresh loopback connection, for requests URLSession would
/// rewrite (expectations, content codings, bodies it would not send): the request's bytes go
/// out as given, the response is read until the server closes (bounded by `timeout`).
enum RawHTTP {
    /// A socket connected to 127.0.0.1:`port` (with a receive buffer of that size, when given),
    /// or -1.
    static func connect(port: Int, receiveBuffer: Int32? = nil) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); return -1 }
        return fd
    }

    static func exchange(port: Int, _ head: String, body: [UInt8] = [], timeout: Int = 10) -> (status: Int, headers: String, body: String) {
        let fd = connect(port: port)
        guard fd >= 0 else { return (0, "", "connect failed") }
        defer { close(fd) }
        var time = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var received: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let status = parts.first?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, parts.first ?? "", parts.dropFirst().joined(separator: "\r\n\r\n"))
    }
}

/// The service's configuration fails closed, and its HTTP edges answer as api.md says
/// (issue 15's items 6, 7, 8 and the service items of 10), over a live `sviserve serve`.
@Suite(.serialized) struct ServiceHardeningTests {
    static func temporaryFile(_ contents: String) -> String {
        let path = NSTemporaryDirectory() + "sviserve-keys-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))
        return path
    }

    @Test(arguments: ["", "# only a comment\n\n   \n", "\r\n# c\r\n  \r\n"])
    func aKeysFileWithoutKeysStopsServe(contents: String) throws {
        let file = Self.temporaryFile(contents)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, stderr) = try ServiceProcess.exit(arguments: ["serve", "--in-memory", "--port", "0", "--keys-file", file])
        #expect(status != nil && status != 0, "serve exits, failing, rather than serving without keys")
        #expect(stderr.contains("holds no API key") && stderr.contains(file), "\(stderr)")
        #expect(!stderr.contains("listening"))
    }

    @Test(arguments: [" , ", "", ",,"])
    func anAPIKeysVariableWithoutKeysStopsServe(value: String) throws {
        let (status, stderr) = try ServiceProcess.exit(arguments: ["serve", "--in-memory", "--port", "0"], environment: ["SVISERVE_API_KEYS": value])
        #expect(status != nil && status != 0)
        #expect(stderr.contains("SVISERVE_API_KEYS holds no API key"), "\(stderr)")
    }

    @Test func keysWithCRLFAndSurroundingSpaceWorkAndMetricsNeedTheirOwnKey() throws {
        let file = Self.temporaryFile("  alpha-key \r\n# a comment\r\n\tbeta-key\r\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory, arguments: ["--keys-file", file],
                                         environment: ["SVISERVE_METRICS_KEY": "scrape-key"])
        #expect(service.logLines().contains { $0.contains(#""api_keys":true"#) && $0.contains(#""metrics_key":true"#) })
        for key in ["alpha-key", "beta-key"] {
            #expect(JobAPITests.request("GET", "\(service.base)/v1/jobs", headers: ["Authorization": "Bearer \(key)"]).status == 200, "\(key)")
        }
        #expect(JobAPITests.request("GET", "\(service.base)/v1/jobs", headers: ["Authorization": "Bearer alpha-key\r"]).status != 200)
        #expect(JobAPITests.request("GET", "\(service.base)/metrics").status == 401)
        #expect(JobAPITests.request("GET", "\(service.base)/metrics", headers: ["Authorization": "Bearer alpha-key"]).status == 401,
                "an API key is not the metrics key")
        let metrics = JobAPITests.request("GET", "\(service.base)/metrics", headers: ["Authorization": "Bearer scrape-key"])
        #expect(metrics.status == 200 && metrics.body.contains("sviserve_jobs"))
        #expect(JobAPITests.request("GET", "\(service.base)/healthz").status == 200)

        // A client without a key gets 401 instead of 100 Continue, and its body is never read.
        let refused = RawHTTP.exchange(port: service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 16000000\r\nExpect: 100-continue\r\n\r\n")
        #expect(refused.status == 401 && !refused.headers.contains("100 Continue"), "\(refused.headers)")
        WorkerIsolationTests.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    @Test func bodiesThatAreNotJSONOrTooLargeOrOddlyExpectedAreRefusedWithTheirStatus() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory)
        let spec = JobManagerTests.spec("normal_normal_reparam", steps: 100)
        func post(_ headers: String, _ body: [UInt8]) -> (status: Int, headers: String, body: String) {
            RawHTTP.exchange(port: service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\(headers)Content-Length: \(body.count)\r\n\r\n", body: body)
        }
        let xml = post("Content-Type: application/xml\r\n", Array("<job/>".utf8))
        #expect(xml.status == 415, "\(xml)")
        #expect(post("Content-Type: text/plain\r\n", spec).status == 415)
        #expect(post("Content-Type: application/json; charset=utf-8\r\n", spec).status == 202)
        #expect(post("", spec).status == 202, "no Content-Type is read as JSON")
        #expect(RawHTTP.exchange(port: service.port, "POST /v1/validate HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Type: application/xml\r\nContent-Length: 2\r\n\r\n{}").status == 415)

        // gzip is decoded; other codings are refused.
        let packed = try #require(gzip(spec))
        let gzipped = post("Content-Type: application/json\r\nContent-Encoding: gzip\r\n", packed)
        #expect(gzipped.status == 202, "\(gzipped)")
        #expect(post("Content-Encoding: br\r\n", spec).status == 415)

        // Any body over the limit is 413, whether declared, sent, or inflated.
        let big = [UInt8](repeating: 0x20, count: (16 << 20) + 1)
        #expect(post("Content-Type: application/json\r\n", big).status == 413)
        let tooLarge = RawHTTP.exchange(port: service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Length: \(40 << 20)\r\n\r\n")
        #expect(tooLarge.status == 413, "\(tooLarge)")
        let bomb = try #require(gzip([UInt8](repeating: 0x20, count: 40 << 20)))
        #expect(post("Content-Encoding: gzip\r\n", bomb).status == 413)

        let expect = RawHTTP.exchange(port: service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: \(spec.count)\r\n\r\n", body: spec)
        #expect(expect.status == 417, "\(expect)")
        #expect(JobAPITests.request("GET", "\(service.base)/healthz").status == 200)
        #expect(service.memory.peak < 1 << 30, "peak RSS \(service.memory.peak >> 20) MiB")
        WorkerIsolationTests.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    @Test func aStreamResumedPastTheEndOfAFinishedJobEndsWithItsTerminalEvent() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory)
        let id = try WorkerIsolationTests.submit(service, JobManagerTests.spec("normal_normal_reparam", steps: 100))
        #expect(WorkerIsolationTests.ended(service, id)["status"] as? String == "succeeded")
        let base = "\(service.base)/v1/jobs/\(id)/events"
        let whole = JobAPITests.request("GET", base).body
        let last = try #require(whole.matches(of: /id: (\d+)/).last.flatMap { Int($0.1) })
        for after in ["9223372036854775807", "99999", "\(last)"] {
            let stream = JobAPITests.request("GET", "\(base)?after=\(after)")
            #expect(stream.status == 200 && stream.body.contains("event: result"), "after=\(after): \(stream.body.prefix(200))")
        }
        let resumed = JobAPITests.request("GET", base, headers: ["Last-Event-ID": "9223372036854775807"])
        #expect(resumed.body.contains("event: result"))
        WorkerIsolationTests.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    /// gzip through the command line tool, so the test does not rely on the code it checks.
    func gzip(_ bytes: [UInt8]) -> [UInt8]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        guard (try? process.run()) != nil else { return nil }
        DispatchQueue.global().async {
            input.fileHandleForWriting.write(Data(bytes))
            try? input.fileHandleForWriting.close()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return process.terminationStatus == 0 ? Array(data) : nil
    }
}
