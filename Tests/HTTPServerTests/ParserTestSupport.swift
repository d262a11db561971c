import Testing
@testable import HTTPServer
import TestSupport

/// Helpers that drive a parser over a whole byte string, split in different ways.
enum Feed {
    /// The events of feeding `bytes` in pieces of the given lengths (the rest in a last piece).
    static func events(_ bytes: [UInt8], pieces: [Int], limits: HTTPLimits = HTTPLimits()) -> [HTTPParserEvent] {
        var parser = HTTPRequestParser(limits: limits)
        var events: [HTTPParserEvent] = []
        var start = 0
        for length in pieces where start < bytes.count {
            let end = min(bytes.count, start + length)
            events += parser.feed(bytes[start..<end])
            start = end
        }
        events += parser.feed(bytes[start...])
        return events
    }

    /// The events of feeding `bytes` in one buffer.
    static func whole(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) -> [HTTPParserEvent] {
        events(bytes, pieces: [], limits: limits)
    }

    /// The events of feeding `bytes` one byte at a time.
    static func bytewise(_ bytes: [UInt8], limits: HTTPLimits = HTTPLimits()) -> [HTTPParserEvent] {
        events(bytes, pieces: Array(repeating: 1, count: bytes.count), limits: limits)
    }

    /// Random piece lengths (1...maxPiece) covering `count` bytes.
    static func randomPieces(count: Int, maxPiece: Int, using generator: inout SplitMix64) -> [Int] {
        var pieces: [Int] = []
        var covered = 0
        while covered < count {
            let piece = Int.random(in: 1...maxPiece, using: &generator)
            pieces.append(piece)
            covered += piece
        }
        return pieces
    }

    /// The events of feeding `bytes` whole, after checking that byte-at-a-time feeding and
    /// `splits` random splittings (fixed seed) give exactly the same events.
    static func checkedEvents(_ text: String, limits: HTTPLimits = HTTPLimits(), splits: Int = 25,
                              sourceLocation: SourceLocation = #_sourceLocation) -> [HTTPParserEvent] {
        let bytes = Array(text.utf8)
        let expected = whole(bytes, limits: limits)
        #expect(bytewise(bytes, limits: limits) == expected, "byte-at-a-time feeding differs", sourceLocation: sourceLocation)
        var generator = SplitMix64(seed: 0x5EED_0000 &+ UInt64(bytes.count))
        for _ in 0..<splits {
            let pieces = randomPieces(count: bytes.count, maxPiece: max(1, bytes.count / 3), using: &generator)
            #expect(events(bytes, pieces: pieces, limits: limits) == expected,
                    "random split \(pieces) differs", sourceLocation: sourceLocation)
        }
        return expected
    }

    /// The requests among `events`, in order.
    static func requests(_ events: [HTTPParserEvent]) -> [HTTPRequest] {
        events.compactMap { if case .request(let request) = $0 { request } else { nil } }
    }
}

extension HTTPRequest {
    /// The body as UTF-8 text, for readable expectations.
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}
