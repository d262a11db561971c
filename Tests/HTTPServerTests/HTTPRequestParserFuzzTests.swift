import Testing
@testable import HTTPServer
import TestSupport

/// Property tests over generated input (fixed seeds, so a failure is reproducible): the parser
/// never crashes or hangs, ends every input either still reading or poisoned by exactly one
/// trailing failure, and yields the same events however the bytes are split.
@Suite struct HTTPRequestParserFuzzTests {
    /// Small limits, so that generated input reaches every limit check too.
    static let tightLimits = HTTPLimits(maxRequestLineLength: 40, maxHeaderSectionLength: 64,
                                        maxHeaderFieldCount: 4, maxBodyLength: 24, maxChunkLineLength: 12)

    /// Valid requests that mutations start from.
    static let seeds: [[UInt8]] = [
        "GET /v1/jobs?status=running&page_size=2 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n",
        "POST /v1/jobs HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        "POST /v1/validate HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nT: v\r\n\r\n",
        "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\nDELETE /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    ].map { Array($0.utf8) }

    /// Fragments that steer random input toward the grammar's decision points.
    static let fragments: [[UInt8]] = [
        "GET ", "POST ", "OPTIONS ", "/", "/a?b=c+d%20", "*", " HTTP/1.1", " HTTP/1.0", " HTTP/2.0", "\r\n", "\r",
        "\n", " ", "\t", ":", ",", ";", "Host: a\r\n", "Content-Length: ", "Transfer-Encoding: ", "chunked",
        "gzip", "0", "5", "f", "ffffffffffffffffff", "-", "+", "\r\n\r\n", "0\r\n\r\n", "Connection: close\r\n",
        "Expect: 100-continue\r\n", "%", "%zz", "\u{0}", "é",
    ].map { Array($0.utf8) }

    @Test(.timeLimit(.minutes(2)))
    func randomByteStringsNeverCrashHangOrEscapeThePoisonedState() {
        var generator = SplitMix64(seed: 0xF0F0_2026)
        var stats = Statistics()
        for index in 0..<20_000 {
            let bytes = index.isMultiple(of: 2)
                ? Self.uniformBytes(using: &generator)
                : Self.fragmentBytes(using: &generator)
            stats.record(Self.checkInvariants(bytes, index: index, using: &generator))
        }
        #expect(stats.failures > 10_000)
        #expect(stats.distinctErrors.count >= 8)
    }

    @Test(.timeLimit(.minutes(2)))
    func mutationsOfValidRequestsNeverCrashHangOrEscapeThePoisonedState() {
        var generator = SplitMix64(seed: 0xBAD_5EED)
        var stats = Statistics()
        for index in 0..<20_000 {
            var bytes = Self.seeds[Int.random(in: 0..<Self.seeds.count, using: &generator)]
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                Self.mutate(&bytes, using: &generator)
            }
            stats.record(Self.checkInvariants(bytes, index: index, using: &generator))
        }
        #expect(stats.requests > 2_000)
        #expect(stats.failures > 2_000)
        #expect(stats.distinctErrors.count >= 25)
    }

    /// What the runs reached, to show that generation exercises more than one path.
    struct Statistics {
        var requests = 0
        var failures = 0
        var distinctErrors: Set<HTTPParseError> = []

        mutating func record(_ events: [HTTPParserEvent]) {
            for event in events {
                switch event {
                case .request: requests += 1
                case .failure(let error):
                    failures += 1
                    distinctErrors.insert(error)
                case .bodyFollows: break
                }
            }
        }
    }

    /// Feeds `bytes` whole and in one random split, under default or tight limits, and checks
    /// every invariant; returns the events.
    static func checkInvariants(_ bytes: [UInt8], index: Int, using generator: inout SplitMix64) -> [HTTPParserEvent] {
        let limits = index.isMultiple(of: 3) ? tightLimits : HTTPLimits()
        var parser = HTTPRequestParser(limits: limits)
        let events = parser.feed(bytes)

        let failureIndices = events.indices.filter { if case .failure = events[$0] { true } else { false } }
        #expect(failureIndices.isEmpty || failureIndices == [events.count - 1], "case \(index): failure not last")
        if case .failure(let error) = events.last {
            #expect(parser.error == error, "case \(index)")
            #expect(parser.isFinished, "case \(index)")
            #expect(parser.feed(seeds[0]).isEmpty, "case \(index): poisoned parser read more")
        } else {
            #expect(parser.error == nil, "case \(index)")
        }
        for request in Feed.requests(events) {
            #expect(request.body.count <= limits.maxBodyLength, "case \(index)")
            #expect(request.headers.count <= limits.maxHeaderFieldCount, "case \(index)")
        }

        let pieces = Feed.randomPieces(count: bytes.count, maxPiece: 16, using: &generator)
        #expect(Feed.events(bytes, pieces: pieces, limits: limits) == events, "case \(index): split changed the events")
        return events
    }

    static func uniformBytes(using generator: inout SplitMix64) -> [UInt8] {
        (0..<Int.random(in: 0...256, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func fragmentBytes(using generator: inout SplitMix64) -> [UInt8] {
        (0..<Int.random(in: 1...24, using: &generator)).flatMap { _ in
            fragments[Int.random(in: 0..<fragments.count, using: &generator)]
        }
    }

    /// Applies one random edit: bit flip, byte replacement, insertion or deletion, slice
    /// duplication or removal, or insertion of a grammar fragment.
    static func mutate(_ bytes: inout [UInt8], using generator: inout SplitMix64) {
        guard !bytes.isEmpty else {
            bytes = fragments[Int.random(in: 0..<fragments.count, using: &generator)]
            return
        }
        let position = Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0:
            bytes[position] ^= 1 << UInt8.random(in: 0...7, using: &generator)
        case 1:
            bytes[position] = UInt8.random(in: 0...255, using: &generator)
        case 2:
            bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
        case 3:
            bytes.remove(at: position)
        case 4:
            let end = min(bytes.count, position + Int.random(in: 1...32, using: &generator))
            if Bool.random(using: &generator) {
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            } else {
                bytes.removeSubrange(position..<end)
            }
        default:
            bytes.insert(contentsOf: fragments[Int.random(in: 0..<fragments.count, using: &generator)], at: position)
        }
    }
}
