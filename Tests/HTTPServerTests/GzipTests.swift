import Testing
@testable import HTTPServer

@Suite struct GzipTests {
    @Test func acceptEncodingIsReadWithQValues() {
        #expect(Gzip.accepted(by: "gzip, deflate"))
        #expect(Gzip.accepted(by: "br;q=1.0, gzip;q=0.5"))
        #expect(Gzip.accepted(by: "*"))
        #expect(!Gzip.accepted(by: "gzip;q=0"))
        #expect(!Gzip.accepted(by: "identity"))
        #expect(!Gzip.accepted(by: nil))
    }

    @Test func largeBodiesAreCompressedForClientsThatAcceptGzip() {
        let body = Array(String(repeating: "{\"elbo\": -6.6037}", count: 200).utf8)
        let request = ResponseEncoder.RequestSummary(isHead: false, version: .http1_1, keepAlive: true, acceptsGzip: true)
        let encoded = ResponseEncoder.encode(HTTPResponse(status: 200, body: .bytes(body)), to: request, close: false)
        let head = String(decoding: encoded.head, as: UTF8.self)
        #expect(head.contains("Content-Encoding: gzip") && head.contains("Vary: Accept-Encoding"))
        guard case let .bytes(packed) = encoded.body else { Issue.record("no body"); return }
        #expect(packed.count < body.count && packed.prefix(2) == [0x1f, 0x8b])
        #expect(head.contains("Content-Length: \(packed.count)"))
        let small = ResponseEncoder.encode(HTTPResponse(status: 200, body: .bytes(Array("{}".utf8))), to: request, close: false)
        #expect(!String(decoding: small.head, as: UTF8.self).contains("gzip"))
    }
}
