import Testing
import Foundation
import HTTPServer
@testable import JobService

/// The dashboard page, driven in headless Chromium (Debian's `chromium`, installed by
/// `make deps`), its drawing read back from the DOM: a finished job's whole thinned ELBO trace
/// with axes and a smoothed line, another run overlaid, its sites' estimators and posterior
/// summaries, its params; a running job's progress with ETA, running estimates and param
/// sparklines. Screenshots of both go to `SVISERVE_DASHBOARD_SCREENSHOTS` when set (the PNGs in
/// docs/ were made so), else to a temporary directory.
@Suite(.serialized) struct DashboardTests {
    static func id(_ response: (status: Int, headers: [String: String], body: String)) -> String {
        (response.headers["Location"] ?? "").replacingOccurrences(of: "/v1/jobs/", with: "")
    }

    static func json(_ text: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
    }

    @Test func aFinishedJobShowsItsWholeTraceWithAxesSmoothingAnOverlayAndItsSummaries() throws {
        try JobAPITests.withLiveAPI(.init(workers: 1, progressInterval: 0)) { _, server in
            let base = "http://127.0.0.1:\(server.port)"
            let page = JobAPITests.request("GET", "\(base)/")
            #expect(page.status == 200 && page.body.contains("<svg id=\"elbo\""))
            #expect(!page.body.contains("src=\"http") && !page.body.contains("href=\"http") && !page.body.contains("@import"))

            let a = Self.id(JobAPITests.request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("normal_normal_reparam")))
            let b = Self.id(JobAPITests.request("POST", "\(base)/v1/jobs", body: JobManagerTests.spec("normal_normal_score_decaying")))
            for id in [a, b] { _ = JobAPITests.request("GET", "\(base)/v1/jobs/\(id)/events") }
            let result = try Self.json(JobAPITests.request("GET", "\(base)/v1/jobs/\(a)/result").body)
            let trace = (result["elbo_trace"] as? [[String: Any]] ?? []).map { [($0["step"] as! NSNumber).doubleValue, ($0["elbo"] as! NSNumber).doubleValue] }
            let other = (try Self.json(JobAPITests.request("GET", "\(base)/v1/jobs/\(b)/result").body)["elbo_trace"] as? [[String: Any]] ?? [])
                .map { [($0["step"] as! NSNumber).doubleValue, ($0["elbo"] as! NSNumber).doubleValue] }
            #expect(trace.count == 1000, "the thinned trace has \(trace.count) points")

            let screenshots = Self.screenshotDirectory()
            let url = "\(base)/?job=\(a)&compare=\(b)"
            let dom = try Self.chromium(["--dump-dom", url])
            #expect(try Self.attribute("data-points", of: "elbo", in: dom) == trace, "the whole thinned ELBO trace is plotted")
            let smoothed = try Self.attribute("data-smoothed", of: "elbo", in: dom)
            #expect(smoothed.count == trace.count && smoothed != trace, "a smoothed line over it")
            let series = try Self.series(of: "elbo", in: dom)
            #expect(series.first { $0.key.hasPrefix(String(b.prefix(8))) }?.value == other, "the compared run is overlaid: \(series.keys)")
            #expect(Self.ticks("x", in: dom).count >= 4 && Self.ticks("y", in: dom).count >= 3, "both axes have labels")
            #expect(dom.contains("data-status=\"succeeded\""))
            #expect(dom.contains("<button id=\"cancel\" disabled=\"\">"), "a finished job cannot be cancelled")
            // The sites table: estimator and the result's posterior mean, as the page formats it.
            let posterior = try #require((result["posterior"] as? [[String: Any]])?.first)
            let mean = (posterior["mean"] as! [NSNumber])[0].doubleValue
            #expect(dom.contains("<td class=\"l\">loc_latent</td><td class=\"l\">reparam</td>"), "site and estimator")
            #expect(dom.contains("<td class=\"mean\">\(String(format: "%.4g", mean).replacingOccurrences(of: "e-0", with: "e-"))"), "the posterior mean \(mean)")
            #expect(dom.contains("data-param=\"loc_q\"") && dom.contains("data-param=\"scale_q\""), "params shown")
            #expect(dom.contains("ETA 0:00"))
            try Self.screenshot(url, to: screenshots.appendingPathComponent("dashboard-finished.png"))
        }
    }

    @Test func aRunningJobShowsProgressETARunningEstimatesAndSparklines() throws {
        try JobAPITests.withLiveAPI(.init(workers: 1, progressInterval: 0.05)) { _, server in
            let base = "http://127.0.0.1:\(server.port)"
            let long = String(decoding: JobManagerTests.spec("linreg_mvn_omt", steps: 5_000_000), as: UTF8.self)
            let id = Self.id(JobAPITests.request("POST", "\(base)/v1/jobs", body: Array(long.utf8)))
            defer { _ = JobAPITests.request("POST", "\(base)/v1/jobs/\(id)/cancel") }
            // Let it run long enough for a few params events.
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let job = try Self.json(JobAPITests.request("GET", "\(base)/v1/jobs/\(id)").body)
                if job["status"] as? String == "running", ((job["progress"] as? [String: Any])?["step"] as? NSNumber)?.intValue ?? 0 > 2000 { break }
                Thread.sleep(forTimeInterval: 0.2)
            }
            Thread.sleep(forTimeInterval: 3)
            let url = "\(base)/?job=\(id)"
            let dom = try Self.chromium(["--virtual-time-budget=3000", "--dump-dom", url])
            #expect(dom.contains("data-status=\"running\""))
            #expect(dom.contains("<button id=\"cancel\">"), "a running job can be cancelled")
            #expect(dom.range(of: #"ETA \d+:\d\d"#, options: .regularExpression) != nil, "progress with ETA")
            #expect(dom.contains("steps/s"))
            #expect(try Self.attribute("data-points", of: "elbo", in: dom).count >= 2, "the ELBO so far")
            #expect(dom.contains("(running estimate from recent draws)"))
            #expect(dom.contains("<td class=\"l\">w</td><td class=\"l\">omt</td>"), "the site's estimator while it runs")
            let sparkline = try #require(dom.range(of: #"class="spark" data-points="\[[^\]]*\]""#, options: .regularExpression))
            let points = dom[sparkline].components(separatedBy: ",").count
            #expect(points >= 2, "a param's history: \(dom[sparkline])")
            try Self.screenshot(url, to: Self.screenshotDirectory().appendingPathComponent("dashboard-running.png"), budget: 3000)
        }
    }

    /// Where screenshots go.
    static func screenshotDirectory() -> URL {
        if let dir = ProcessInfo.processInfo.environment["SVISERVE_DASHBOARD_SCREENSHOTS"] { return URL(fileURLWithPath: dir) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sviserve-dashboard")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// A PNG of the page as a person sees it.
    static func screenshot(_ url: String, to file: URL, budget: Int = 15000) throws {
        try? FileManager.default.removeItem(at: file)
        _ = try chromium(["--virtual-time-budget=\(budget)", "--window-size=1280,1100", "--hide-scrollbars", "--screenshot=\(file.path)", url])
        let data = try Data(contentsOf: file)
        #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]) && data.count > 20_000, "a PNG of the page (\(data.count) bytes)")
    }

    /// Headless Chromium's output for `arguments` (the page's DOM after its scripts ran, with
    /// `--dump-dom`).
    static func chromium(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("chromium-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: profile) }
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                             "--user-data-dir=\(profile.path)"] + (arguments.contains { $0.hasPrefix("--virtual-time-budget") } ? [] : ["--virtual-time-budget=15000"]) + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// The JSON text of attribute `name` on the element with `id` (HTML-unescaped).
    static func rawAttribute(_ name: String, of id: String, in dom: String) -> String? {
        guard let start = dom.range(of: "id=\"\(id)\"") else { return nil }
        let tail = dom[start.upperBound...]
        guard let tagEnd = tail.firstIndex(of: ">"), let attr = tail[..<tagEnd].range(of: "\(name)=\""),
              let end = tail[attr.upperBound...].firstIndex(of: "\"") else { return nil }
        return String(tail[attr.upperBound..<end]).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func attribute(_ name: String, of id: String, in dom: String) throws -> [[Double]] {
        guard let json = rawAttribute(name, of: id, in: dom) else { return [] }
        return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[Double]]) ?? []
    }

    static func series(of id: String, in dom: String) throws -> [String: [[Double]]] {
        guard let json = rawAttribute("data-series", of: id, in: dom) else { return [:] }
        return (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: [[Double]]]) ?? [:]
    }

    /// The tick labels of the ELBO chart's axis `axis`.
    static func ticks(_ axis: String, in dom: String) -> [String] {
        guard let start = dom.range(of: "id=\"elbo\""), let end = dom[start.upperBound...].range(of: "</svg>") else { return [] }
        let chart = String(dom[start.upperBound..<end.lowerBound])
        return chart.matches(of: try! Regex("data-axis=\"\(axis)\">([^<]*)<")).map { String($0.output[1].substring ?? "") }
    }
}
