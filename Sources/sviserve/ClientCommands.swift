import ArgumentParser
import Foundation
import JSON
import ModelSpec

/// Where the running service is and how to reach it (the client commands' shared options).
struct ServerOptions: ParsableArguments {
    @Option(help: "The service's URL, http:// or https:// (env SVISERVE_URL; default http://127.0.0.1:8080).")
    var server: String?
    @Option(help: "API key, when the service has keys (env SVISERVE_API_KEY).")
    var key: String?
    @Option(help: "PEM file of CA certificates to trust for https:// (default: the system's).")
    var cacert: String?

    func client() throws -> ServiceClient {
        let environment = ProcessInfo.processInfo.environment
        do {
            return try ServiceClient(server: server ?? environment["SVISERVE_URL"] ?? "http://127.0.0.1:8080",
                                     key: key ?? environment["SVISERVE_API_KEY"], caFile: cacert)
        } catch { throw CommandFailure.usage("\(error)") }
    }
}

/// A command's failure with its exit status (sysexits.h): printed as `error: …`, without the
/// usage block, which is for mistakes on the command line only.
enum CommandFailure: Error, CustomStringConvertible {
    /// The spec is invalid (65, EX_DATAERR): every problem, one per line.
    case invalidSpec(String)
    /// A file could not be read (66, EX_NOINPUT).
    case unreadable(String)
    /// The service could not be reached or answered with an error (69, EX_UNAVAILABLE).
    case unavailable(String)
    /// An option's value is unusable (64, EX_USAGE).
    case usage(String)
    /// The job ran and failed or was cancelled (1).
    case jobFailed(String)

    var description: String {
        switch self {
        case let .invalidSpec(m), let .unreadable(m), let .unavailable(m), let .usage(m), let .jobFailed(m): m
        }
    }

    var code: Int32 {
        switch self {
        case .invalidSpec: 65
        case .unreadable: 66
        case .unavailable: 69
        case .usage: 64
        case .jobFailed: 1
        }
    }
}

/// Runs `body`, turning a ``CommandFailure`` into its message on stderr and its exit status.
func reporting(_ body: () throws -> Void) throws {
    do { try body() } catch let failure as CommandFailure {
        FileHandle.standardError.write(Data("error: \(failure)\n".utf8))
        throw ExitCode(failure.code)
    }
}

/// The answer of one request, or the failure it stands for: 422/400 as an invalid spec with
/// its problems, anything else not in `accepted` as the service's problem detail.
func answer(_ client: ServiceClient, _ method: String, _ path: String, body: [UInt8]? = nil, accepted: Set<Int> = [200]) throws -> ServiceClient.Response {
    let response: ServiceClient.Response
    do { response = try client.send(method, path, body: body) } catch { throw CommandFailure.unavailable("\(error)") }
    guard accepted.contains(response.status) else {
        let problem = (try? JSONParser.parse(response.body))?.asObject
        let detail = problem?["detail"]?.asString ?? response.text.prefix(300).description
        if response.status == 422 || response.status == 400, let errors = problem?["errors"]?.asArray {
            let lines = errors.map { "  \(($0.asObject?["pointer"]?.asString).flatMap { $0.isEmpty ? nil : $0 } ?? "/"): \($0.asObject?["message"]?.asString ?? "")" }
            throw CommandFailure.invalidSpec("the spec is invalid:\n" + lines.joined(separator: "\n"))
        }
        if response.status == 400 { throw CommandFailure.invalidSpec(detail) }
        throw CommandFailure.unavailable("\(method) \(path): \(response.status) \(detail)")
    }
    return response
}

/// A JSON object from a response body.
func object(_ response: ServiceClient.Response) throws -> JSONObject {
    guard let o = (try? JSONParser.parse(response.body))?.asObject else {
        throw CommandFailure.unavailable("the service answered with something other than a JSON object")
    }
    return o
}

/// A JSON number that is a whole `Int`, or nil.
func integer(_ value: JSONValue?) -> Int? {
    value?.asNumber.flatMap { Int(exactly: $0) }
}

/// A result as the service encodes it (non-finite numbers as strings).
func decodeResult(_ bytes: [UInt8]) throws -> JobResult {
    do { return try JSONValueDecoder().decode(JobResult.self, from: bytes) } catch {
        throw CommandFailure.unavailable("cannot read the result: \(error)")
    }
}

/// Follows a job's event stream (NDJSON) with a progress bar until its terminal event; returns
/// the final status.
func follow(_ client: ServiceClient, _ id: String, quiet: Bool) throws -> String {
    var status = "unknown", buffer: [UInt8] = []
    var bar: ProgressBar?
    defer { bar?.finish() }
    let response: ServiceClient.Response
    do {
        response = try client.send("GET", "/v1/jobs/\(id)/events", accept: "application/x-ndjson") { bytes in
            buffer += bytes
            while let newline = buffer.firstIndex(of: 10) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard let event = (try? JSONParser.parse(line))?.asObject,
                      let data = event["data"]?.asObject else { continue }
                switch event["event"]?.asString {
                case "progress":
                    let step = integer(data["step"]) ?? 0, steps = integer(data["steps"]) ?? 0
                    if bar == nil { bar = ProgressBar(total: steps, firstStep: step, quiet: quiet) }
                    bar?.report(step: step, elbo: data["elbo"]?.asNumber ?? .nan, gradNorm: data["grad_norm"]?.asNumber)
                case "status":
                    status = data["status"]?.asString ?? status
                    if let error = data["error"]?.asString, !error.isEmpty, status != "running", status != "queued" { status += ": \(error)" }
                case "result": status = "succeeded"
                case "error": status = "failed: \(data["error"]?.asString ?? "")"
                default: break
                }
            }
            return true
        }
    } catch { throw CommandFailure.unavailable("\(error)") }
    if response.status != 200 { _ = try answer(client, "GET", "/v1/jobs/\(id)") }
    return status
}

extension Sviserve {
    /// `sviserve submit FILE`: sends a spec to a running service and prints the job's id.
    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a job spec to a running service; prints the job id.")
        @Argument(help: "The job spec (JSON).") var file: String
        @Flag(help: "Follow the job to its end, then print its result.") var wait = false
        @Flag(help: "With --wait: the result as JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() throws {
            try reporting {
                let client = try server.client()
                let bytes: [UInt8]
                do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file))) } catch {
                    throw CommandFailure.unreadable("cannot read \(file): \(error.localizedDescription)")
                }
                let job = try object(try answer(client, "POST", "/v1/jobs", body: bytes, accepted: [200, 202]))
                let id = job["id"]?.asString ?? ""
                guard wait else { print(id); return }
                FileHandle.standardError.write(Data("job \(id)\n".utf8))
                let status = try follow(client, id, quiet: false)
                guard status == "succeeded" else { throw CommandFailure.jobFailed("job \(id) \(status)") }
                let result = try decodeResult(try answer(client, "GET", "/v1/jobs/\(id)/result").body)
                print(json ? ResultText.json(result) : ResultText.table(result), terminator: json ? "\n" : "")
            }
        }
    }

    /// `sviserve status [ID]`: one job's status and progress, or the newest jobs.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a job's status and progress (or, without an id, the newest jobs).")
        @Argument(help: "The job id.") var id: String?
        @Flag(help: "The job resource as JSON.") var json = false
        @OptionGroup var server: ServerOptions

        func run() throws {
            try reporting {
                let client = try server.client()
                if let id {
                    let response = try answer(client, "GET", "/v1/jobs/\(id)")
                    if json { print(response.text); return }
                    print(Self.line(try object(response)))
                } else {
                    let response = try answer(client, "GET", "/v1/jobs?page_size=20")
                    if json { print(response.text); return }
                    for job in (try object(response))["jobs"]?.asArray ?? [] { print(Self.line(job.asObject ?? [:])) }
                }
            }
        }

        /// `ID  NAME  STATUS  step S/N  ELBO E  (error)`.
        static func line(_ job: JSONObject) -> String {
            let p = job["progress"]?.asObject ?? [:]
            let step = integer(p["step"]) ?? 0, steps = integer(p["steps"]) ?? 0
            var out = "\(job["id"]?.asString ?? "?")  \(job["name"]?.asString ?? "")  \(job["status"]?.asString ?? "?")  step \(step)/\(steps)"
            if let elbo = p["elbo"]?.asNumber { out += "  ELBO \(ResultText.number(elbo))" }
            if let error = job["error"]?.asString, !error.isEmpty { out += "  (\(error))" }
            return out
        }
    }

    /// `sviserve watch ID`: a progress bar from the job's event stream until it ends.
    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Follow a job's progress until it ends (exit status 1 unless it succeeds).")
        @Argument(help: "The job id.") var id: String
        @OptionGroup var server: ServerOptions

        func run() throws {
            try reporting {
                let status = try follow(try server.client(), id, quiet: false)
                print("\(id) \(status)")
                guard status == "succeeded" else { throw CommandFailure.jobFailed("job \(id) \(status)") }
            }
        }
    }

    /// `sviserve result ID`: a finished job's result, as a table or JSON.
    struct Result: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a finished job's result (a summary table, or --json).")
        @Argument(help: "The job id.") var id: String
        @Flag(help: "The full result as JSON, params first.") var json = false
        @OptionGroup var server: ServerOptions

        func run() throws {
            try reporting {
                let result = try decodeResult(try answer(try server.client(), "GET", "/v1/jobs/\(id)/result").body)
                print(json ? ResultText.json(result) : ResultText.table(result), terminator: json ? "\n" : "")
            }
        }
    }

    /// `sviserve cancel ID`: asks a queued or running job to stop.
    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Ask a queued or running job to stop.")
        @Argument(help: "The job id.") var id: String
        @OptionGroup var server: ServerOptions

        func run() throws {
            try reporting {
                print(Status.line(try object(try answer(try server.client(), "POST", "/v1/jobs/\(id)/cancel", accepted: [202]))))
            }
        }
    }
}
