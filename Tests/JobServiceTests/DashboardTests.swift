import Testing
import Foundation
import HTTPServer
@testable import JobService

/// The dashboard page, driven in headless Chromium (Debian's `chromium`, installed by
/// `make deps`): the ELBO and gradient-norm points it plots are the job's progress events.
@Suite(.serialized) struct DashboardTests {
    @Test func thePagePlotsTheJobsProgressEvents() throws {
        try JobAPITests.withLiveAPI(.init(workers: 1, progressInterval: 0)) { manager, server in
            let base = "http://127.0.0.1:\(server.port)"

            let page = JobAPITests.request("GET", "\(base)/")
            #expect(page.status == 200 && page.body.contains("<svg id=\"elbo\""))
            #expect(!page.body.contains("src=\"http") && !page.body.contains("href=\"http") && !page.body.contains("@import"))

            let created = JobAPITests.request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("normal_normal_reparam"))
            let id = (created.headers["Location"] ?? "").replacingOccurrences(of: "/v1/jobs/", with: "")
            let events = JobAPITests.request("GET", "\(base)/v1/jobs/\(id)/events", headers: ["Accept": "application/x-ndjson"]).body
            var expected: [[Double]] = [], gradients: [[Double]] = []
            for line in events.split(separator: "\n") {
                let e = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                guard e["event"] as? String == "progress", let d = e["data"] as? [String: Any] else { continue }
                expected.append([(d["step"] as! NSNumber).doubleValue, (d["elbo"] as! NSNumber).doubleValue])
                gradients.append([(d["step"] as! NSNumber).doubleValue, (d["grad_norm"] as! NSNumber).doubleValue])
            }
            #expect(expected.count >= 10)

            let dom = try Self.renderedDOM("\(base)/?job=\(id)")
            #expect(try Self.points("elbo", in: dom) == expected)
            #expect(try Self.points("grad", in: dom) == gradients)
            #expect(dom.contains("loc_latent: reparam"), "estimators shown")
            #expect(dom.contains("loc_q"), "final params shown")
        }    }

    /// The page's DOM after its scripts ran, from headless Chromium.
    static func renderedDOM(_ url: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--virtual-time-budget=15000", "--dump-dom", url]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The `data-points` of the chart with `id` (HTML-unescaped JSON).
    static func points(_ id: String, in dom: String) throws -> [[Double]] {
        guard let start = dom.range(of: "id=\"\(id)\"") else { return [] }
        let tail = dom[start.upperBound...]
        guard let attr = tail.range(of: "data-points=\""), let end = tail[attr.upperBound...].firstIndex(of: "\"") else { return [] }
        let json = String(tail[attr.upperBound..<end]).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
        return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[Double]]) ?? []
    }
}
