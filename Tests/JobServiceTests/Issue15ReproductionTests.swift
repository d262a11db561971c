import Foundation
import Testing
@testable import JobService

/// Issue 15's reproductions of what took the service down, each over a live `sviserve serve`,
/// answered as the issue asks, with the service alive and its memory bounded afterwards.
/// (Item 5, the unbounded run time, is `WorkerIsolationTests`' time-limit test; item 6, keys
/// that fail open, and the small items of 10 are `ServiceHardeningTests` and
/// `StoreLimitTests`; item 8's fuzzer is `SpecFuzzTests`.)
@Suite(.serialized) struct Issue15ReproductionTests {
    /// A socket that has sent `head` (nothing read yet), or -1.
    static func sent(_ port: Int, _ head: String) -> Int32 {
        let fd = RawHTTP.connect(port: port)
        guard fd >= 0 else { return -1 }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = head.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// What the server has sent on `fd` so far (waiting up to the socket's timeout for the first byte).
    static func received(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : ""
    }

    @Test func aSpecWithoutParamsEndsAsAJobAndNeverLoops() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The log-likelihood-only form, and a guide that draws but has no param.
        let likelihoodOnly = #"{"name": "loglik", "data": {"x": [0.1, -0.3, 0.2]}, "plates": {"n": {"size": "len(x)"}}, "guide": [], "model": [{"sample": "obs", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}, "plates": ["n"], "obs": "x"}], "inference": {"steps": 50}}"#
        let drawsOnly = #"{"name": "draws", "data": {"x": [0.1, -0.3, 0.2]}, "plates": {"n": {"size": "len(x)"}}, "guide": [{"sample": "mu", "dist": "Normal", "args": {"loc": 0.0, "scale": 1.0}}], "model": [{"sample": "mu", "dist": "Normal", "args": {"loc": 0.0, "scale": 2.0}}, {"sample": "obs", "dist": "Normal", "args": {"loc": "mu", "scale": 1.0}, "plates": ["n"], "obs": "x"}], "inference": {"steps": 50}}"#
        let first = try ServiceProcess(dataDirectory: directory)
        var ids: [String] = []
        for spec in [likelihoodOnly, drawsOnly] {
            #expect(JobAPITests.request("POST", "\(first.base)/v1/validate", body: Array(spec.utf8)).status == 200)
            ids.append(try WorkerIsolationTests.submit(first, Array(spec.utf8)))
        }
        for id in ids {
            let ended = WorkerIsolationTests.ended(first, id)
            #expect(["succeeded", "failed"].contains(ended["status"] as? String ?? ""), "the job ends, whatever the engine makes of it: \(ended)")
        }
        WorkerIsolationTests.expectHealthy(first)
        #expect(first.terminate().status == 0)
        // Restarted on the same data, the service comes up and stays up: nothing is left to loop.
        let second = try ServiceProcess(dataDirectory: directory)
        Thread.sleep(forTimeInterval: 1)
        WorkerIsolationTests.expectHealthy(second)
        #expect(!second.logLines().contains { $0.contains(#""event":"worker_stopped""#) })
        #expect(second.terminate().status == 0)
    }

    @Test func bodiesAreNotBufferedBeforeTheKeyNorBeyondTheBudget() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let keys = ServiceHardeningTests.temporaryFile("the-key\n")
        defer { try? FileManager.default.removeItem(atPath: keys) }
        let service = try ServiceProcess(dataDirectory: directory, arguments: ["--keys-file", keys, "--max-connections", "300"])
        let body = 15 << 20
        // 80 clients without a key: each gets 401 instead of 100 Continue.
        var sockets = (0..<80).map { _ in Self.sent(service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: \(body)\r\nExpect: 100-continue\r\n\r\n") }
        for fd in sockets {
            let answer = Self.received(fd)
            #expect(answer.hasPrefix("HTTP/1.1 401") && !answer.contains("100 Continue"), "\(answer.prefix(80))")
            close(fd)
        }
        // 80 clients with the key, each declaring 15 MiB and sending 1 MiB of it: the ones the
        // 256 MiB budget holds are read, the others get 503 before their bodies are read.
        let chunk = [UInt8](repeating: 0x20, count: 1 << 20)
        sockets = (0..<80).map { _ in
            let fd = Self.sent(service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer the-key\r\nContent-Type: application/json\r\nContent-Length: \(body)\r\n\r\n")
            _ = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            return fd
        }
        Thread.sleep(forTimeInterval: 1)
        var refused = 0
        for fd in sockets {
            var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 0) > 0, Self.received(fd).hasPrefix("HTTP/1.1 503") { refused += 1 }
        }
        #expect(refused >= 80 - (256 / 15), "\(refused) of 80 refused: at most 17 bodies of 15 MiB fit the 256 MiB budget")
        #expect(service.memory.peak < 512 << 20, "peak RSS \(service.memory.peak >> 20) MiB")
        sockets.forEach { close($0) }
        // A body over the limit is 413 on its head.
        let huge = Self.sent(service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer the-key\r\nContent-Length: \(63 << 20)\r\n\r\n")
        #expect(Self.received(huge).hasPrefix("HTTP/1.1 413"))
        close(huge)
        WorkerIsolationTests.expectHealthy(service)
        #expect(service.terminate().status == 0)
    }

    @Test func slowBodiesCannotHoldEveryConnectionForever() throws {
        let directory = JobStoreTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let service = try ServiceProcess(dataDirectory: directory, arguments: ["--max-connections", "40"])
        // Every connection the server allows, each trickling a body one byte every 2 s: never
        // idle, never done.
        let sockets = (0..<40).map { _ in Self.sent(service.port, "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n{") }
        defer { sockets.forEach { close($0) } }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(RawHTTP.exchange(port: service.port, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status == 503, "every connection is taken")
        let start = Date()
        var served = false
        while !served && Date().timeIntervalSince(start) < 30 {
            for fd in sockets { _ = " ".withCString { send(fd, $0, 1, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) } }
            Thread.sleep(forTimeInterval: 2)
            served = RawHTTP.exchange(port: service.port, "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").status == 200
        }
        #expect(served, "the trickling bodies are cut off (408) and the server takes new connections again")
        let seconds = Date().timeIntervalSince(start)
        #expect(seconds < 20, "after the 10 s grace, not after the 60 s idle timeout or never: \(seconds) s")
        let cut = sockets.filter { Self.received($0).hasPrefix("HTTP/1.1 408") }.count
        #expect(cut == 40, "\(cut) of 40 were answered 408")
        #expect(service.terminate().status == 0)
    }
}
