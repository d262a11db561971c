import Testing
import Foundation
import HTTPServer
@testable import JobService

/// The outputs routes over loopback: tags and the tag filter, the stored spec, warm start and
/// references by job id (resolved at submission, same key only), W₂ in progress events,
/// draws and the NetCDF groups.
@Suite(.serialized) struct OutputsAPITests {
    static let conjugate = """
    {
      "name": "conjugate", "tags": ["conjugate", "w2"],
      "data": { "x": [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]], "mu0": [0.0, 0.5], "s2": [0.16666666666666666, 0.25] },
      "plates": { "d": {"size": "len(x)"}, "p": {"size": 2} },
      "guide": [
        {"param": "loc_q", "init": "zeros(2)"},
        {"param": "scale_q", "init": [1.0, 1.0], "constraint": "positive"},
        {"sample": "z", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"}, "plates": ["p"]}
      ],
      "model": [
        {"sample": "z", "dist": "Normal", "args": {"loc": "mu0", "scale": 3.1622776601683795}, "plates": ["p"]},
        {"sample": "obs", "dist": "Normal", "args": {"loc": "z", "scale": "sqrt(s2)"}, "plates": ["d", "p"], "obs": "x"}
      ],
      "transport": { "references": {
        "exact": {"site": "z", "mean": "(mu0 / 10 + sum(x, 0) / s2) / (0.1 + len(x) / s2)", "scale": "1 / sqrt(0.1 + len(x) / s2)"}
      } },
      "inference": { "steps": 1000, "particles": 4, "seed": 3, "report_every": 50, "optimizer": {"name": "adam", "lr": 0.02} }
    }
    """

    static func id(_ response: (status: Int, headers: [String: String], body: String)) -> String {
        response.headers["Location"]?.replacingOccurrences(of: "/v1/jobs/", with: "") ?? ""
    }

    @Test func tagsSpecTransportEventsDrawsNetCDFAndWarmStart() throws {
        let manager = JobManager(configuration: .init(workers: 1, progressInterval: 10))
        defer { manager.shutdown() }
        let api = JobAPI(manager: manager, keys: APIKeys(keys: ["alpha", "beta"]))
        let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), responder: api.router())
        try server.start()
        defer { server.shutdown(grace: .seconds(1)) { } }
        let base = "http://127.0.0.1:\(server.port)"
        func call(_ method: String, _ path: String, _ body: String? = nil, key: String = "alpha") -> (status: Int, headers: [String: String], body: String) {
            JobAPITests.request(method, base + path, body: body.map { Array($0.utf8) }, headers: ["Authorization": "Bearer \(key)"])
        }

        let first = call("POST", "/v1/jobs", Self.conjugate)
        #expect(first.status == 202, "\(first)")
        let id = Self.id(first)
        #expect(first.body.contains(#""tags":["conjugate","w2"]"#))
        // W₂ arrives in progress events at report steps, whatever the throttle (10 s here).
        let events = call("GET", "/v1/jobs/\(id)/events", key: "alpha")
        let progress = events.body.components(separatedBy: "\n\n").filter { $0.contains("event: progress") && $0.contains("\"transport\"") }
        #expect(progress.count == 20, "\(events.body.prefix(400))")
        #expect(progress.first?.contains(#""reference":"exact","site":"z","w2":"#) == true)
        #expect(call("GET", "/v1/jobs/\(id)/result").body.contains(#""w2_mean""#))

        // The list filter by tag, the spec as stored.
        let other = call("POST", "/v1/jobs", Self.conjugate.replacingOccurrences(of: #""tags": ["conjugate", "w2"]"#, with: #""tags": ["other"]"#))
        #expect(other.status == 202)
        let tagged = call("GET", "/v1/jobs?tag=w2")
        #expect(tagged.body.contains(id) && !tagged.body.contains(Self.id(other)))
        #expect(call("GET", "/v1/jobs?tag=nothing").body.contains(#""jobs":[]"#))
        let spec = call("GET", "/v1/jobs/\(id)/spec")
        #expect(spec.status == 200 && spec.body == Self.conjugate)
        #expect(call("GET", "/v1/jobs/\(id)/spec", key: "beta").status == 404)

        // Draws (seeded) and NetCDF groups.
        let draws = call("GET", "/v1/jobs/\(id)/draws?n=50&seed=4&reference=exact")
        #expect(draws.status == 200 && draws.body.contains(#""coupled""#) && draws.body.contains(#""name":"obs""#), "\(draws.body.prefix(300))")
        #expect(call("GET", "/v1/jobs/\(id)/draws?n=50&seed=4&reference=exact").body == draws.body)
        #expect(call("GET", "/v1/jobs/\(id)/draws?n=100000").status == 400)
        #expect(call("GET", "/v1/jobs/\(id)/draws?n=abc").status == 400)
        let nc = JobAPITests.request("GET", base + "/v1/jobs/\(id)/result.nc?n=20", headers: ["Authorization": "Bearer alpha", "Accept-Encoding": "identity"])
        #expect(nc.status == 200 && nc.headers["Content-Type"] == "application/x-netcdf" && nc.body.hasPrefix("CDF"))
        #expect(call("GET", "/v1/jobs/\(id)/result.nc?group=nope").status == 400)

        // Warm start and a reference by job id: resolved at submission into the stored spec.
        let warm = Self.conjugate
            .replacingOccurrences(of: #""name": "conjugate","#, with: #""name": "warm", "init_from": "\#(id)","#)
            .replacingOccurrences(of: #""transport": { "references": {"#, with: #""transport": { "references": { "before": {"site": "z", "job": "\#(id)"},"#)
            .replacingOccurrences(of: #""steps": 1000"#, with: #""steps": 0"#)
        let second = call("POST", "/v1/jobs", warm)
        #expect(second.status == 202, "\(second)")
        let stored = call("GET", "/v1/jobs/\(Self.id(second))/spec").body
        #expect(stored.contains(#""init_from":{"job":"\#(id)","params":{"loc_q":["#) && stored.contains(#""before":{"site":"z","job":"\#(id)","mean":["#))
        _ = call("GET", "/v1/jobs/\(Self.id(second))/events")
        let warmResult = call("GET", "/v1/jobs/\(Self.id(second))/result").body
        #expect(warmResult.contains(#""source":"job""#), "\(warmResult.prefix(200))")
        // Another key cannot name the job: 422 with the pointer.
        let foreign = call("POST", "/v1/jobs", warm, key: "beta")
        #expect(foreign.status == 422 && foreign.body.contains(#""pointer":"/init_from""#), "\(foreign)")
        let validated = call("POST", "/v1/validate", warm)
        #expect(validated.status == 200, "\(validated)")
    }
}
