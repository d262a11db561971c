import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Inference
import JSON
import JobService
import ModelSpec
import Numerics
import Workloads

/// The `sviserve` command: run, validate and benchmark JSON job specs.
@main
struct Sviserve: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sviserve",
        abstract: "Stochastic variational inference jobs described as JSON (Pyro programs, as data).",
        discussion: "The job language: docs/job-spec.md. Exit status: 0 success, 1 a job that failed, 64 a bad option, 65 an invalid spec, 66 an unreadable file, 69 a service that cannot be reached or refused the request.",
        subcommands: [Serve.self, Run.self, Validate.self, Schema.self, Bench.self, Submit.self, Status.self, Watch.self, Result.self, Cancel.self,
                      Worker.self])
}

/// Reads and compiles a spec file; an unreadable file or an invalid spec is a ``CommandFailure``
/// listing every problem with its pointer.
func load(_ path: String, steps: Int? = nil, seed: UInt64? = nil) throws -> CompiledJob {
    let bytes: [UInt8]
    do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
        throw CommandFailure.unreadable("cannot read \(path): \(error.localizedDescription)")
    }
    return try compile(bytes: bytes, source: path, steps: steps, seed: seed)
}

/// A job spec's text compiled; `source` names it in errors.
func compile(text: String, source: String) throws -> CompiledJob {
    try compile(bytes: Array(text.utf8), source: source, steps: nil, seed: nil)
}

func compile(bytes: [UInt8], source path: String, steps: Int?, seed: UInt64?) throws -> CompiledJob {
    do {
        var spec = try SpecDecoder.decode(try JSONParser.parse(bytes))
        if let steps { spec.inference.steps = steps }
        if let seed { spec.inference.seed = seed }
        return try SpecCompiler.compile(spec)
    } catch let e as JSONParseError {
        throw CommandFailure.invalidSpec("\(path):\(e.line):\(e.column): \(e.message)")
    } catch let e as SpecErrors {
        throw CommandFailure.invalidSpec("\(path): the spec is invalid:\n" + e.diagnostics.map { "  \($0.pointer.isEmpty ? "/" : $0.pointer): \($0.message)" }.joined(separator: "\n"))
    }
}

/// The environment variable `name` read as a `T` (nil when unset or unreadable): the default
/// of an option that the environment may set.
func setting<T: LosslessStringConvertible>(_ name: String) -> T? {
    ProcessInfo.processInfo.environment[name].flatMap(T.init)
}

extension Sviserve {
    /// `sviserve worker`: runs the one job `serve` hands it on standard input (not for people:
    /// hidden from the help).
    struct Worker: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run one job for the service (internal).", shouldDisplay: false)
        func run() throws {
            Foundation.exit(JobWorker.main())
        }
    }

    /// `sviserve serve`: the HTTP job service (api.md), until SIGINT or SIGTERM.
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Serve the job API over HTTP/1.1.")
        @Option(help: "Address to bind (env SVISERVE_HOST).") var host: String = setting("SVISERVE_HOST") ?? "127.0.0.1"
        @Option(help: "Port (env SVISERVE_PORT).") var port: Int = setting("SVISERVE_PORT") ?? 8080
        @Option(help: "Worker threads (env SVISERVE_WORKERS; default: one per core).")
        var workers: Int?
        @Option(help: "Queued jobs accepted before 429 (env SVISERVE_QUEUE).")
        var queue: Int = setting("SVISERVE_QUEUE") ?? 10_000
        @Option(help: "Open connections accepted before new ones are refused with 503 (env SVISERVE_MAX_CONNECTIONS).")
        var maxConnections: Int = setting("SVISERVE_MAX_CONNECTIONS") ?? 1024
        @Option(help: "Serial I/O queues the connections are spread over (env SVISERVE_IO_QUEUES; default: one per CPU).")
        var ioQueues: Int?
        @Option(help: "PEM certificate (chain) to serve HTTPS with (env SVISERVE_TLS_CERT); needs --tls-key.")
        var tlsCert: String?
        @Option(help: "PEM private key of --tls-cert, unencrypted (env SVISERVE_TLS_KEY).")
        var tlsKey: String?
        @Option(help: "File of API keys, one per line (env SVISERVE_KEYS_FILE); env SVISERVE_API_KEYS takes a comma-separated list. Either one yielding no key stops serve.")
        var keysFile: String?
        @Option(help: "Key that GET /metrics then needs as a bearer token (env SVISERVE_METRICS_KEY, which keeps it out of the process list); default: /metrics is open.")
        var metricsKey: String?
        @Option(help: "Most MiB of request bodies buffered at once over all connections; past it a request gets 503 before its body is read (env SVISERVE_MAX_BUFFERED_MB).")
        var maxBufferedMb: Int = setting("SVISERVE_MAX_BUFFERED_MB") ?? 256
        @Option(help: "Directory of the job store, an SQLite database (env SVISERVE_DATA_DIR).")
        var dataDir: String = setting("SVISERVE_DATA_DIR") ?? "sviserve-data"
        @Option(help: "PostgreSQL database shared by several replicas, postgres://user:password@host:port/database (env SVISERVE_DATABASE_URL, which keeps the password out of the process list); default: the SQLite store of --data-dir.")
        var databaseUrl: String?
        @Option(help: "File holding the --database-url, e.g. a mounted Secret (env SVISERVE_DATABASE_URL_FILE), which keeps the password out of the environment too; an unreadable or empty file stops serve.")
        var databaseUrlFile: String?
        @Option(help: "Seconds a replica's claim on a running job lasts without renewal, with --database-url; a job whose lease runs out is continued by another replica (env SVISERVE_LEASE_SECONDS).")
        var leaseSeconds: Double = setting("SVISERVE_LEASE_SECONDS") ?? 15
        @Flag(help: "Keep jobs in memory only: nothing survives a restart.")
        var inMemory = false
        @Option(help: "Largest size of the job store in MiB; past it submissions get 503 (env SVISERVE_STORE_LIMIT_MB; default: the disk's).")
        var storeLimitMb: Int?
        @Option(help: "Days finished jobs are kept (env SVISERVE_RETENTION_DAYS).")
        var retentionDays: Double = setting("SVISERVE_RETENTION_DAYS") ?? 7
        @Option(help: "Seconds between checkpoints of a running job (env SVISERVE_CHECKPOINT_SECONDS).")
        var checkpointSeconds: Double = setting("SVISERVE_CHECKPOINT_SECONDS") ?? 10
        @Option(help: "Steps between checkpoints of a running job (env SVISERVE_CHECKPOINT_STEPS).")
        var checkpointSteps: Int = setting("SVISERVE_CHECKPOINT_STEPS") ?? 10_000
        @Option(help: "Most seconds of training per job; a spec's max_seconds can only lower it (env SVISERVE_MAX_JOB_SECONDS; default: 86400, a day).")
        var maxJobSeconds: Double = setting("SVISERVE_MAX_JOB_SECONDS") ?? 86_400
        @Option(help: "Most jobs one API key may have running at once; the other workers stay for other keys (env SVISERVE_MAX_RUNNING_PER_KEY; default: every worker).")
        var maxRunningPerKey: Int?
        @Option(help: "Most jobs one API key may have queued; past it its submissions get 429 (env SVISERVE_MAX_QUEUED_PER_KEY; default: the whole queue).")
        var maxQueuedPerKey: Int?
        @Option(help: "Memory one job may hold while it runs, in MiB: specs whose estimate passes it are refused (env SVISERVE_MAX_JOB_MEMORY_MB).")
        var maxJobMemoryMb: Int = setting("SVISERVE_MAX_JOB_MEMORY_MB") ?? 4096

        /// `--workers`, else the environment's, else one per core.
        var workerCount: Int { workers ?? setting("SVISERVE_WORKERS") ?? ProcessInfo.processInfo.activeProcessorCount }
        /// `--max-running-per-key`, else the environment's (nil: no limit).
        var runningPerKey: Int? { maxRunningPerKey ?? setting("SVISERVE_MAX_RUNNING_PER_KEY") }
        /// `--max-queued-per-key`, else the environment's (nil: no limit).
        var queuedPerKey: Int? { maxQueuedPerKey ?? setting("SVISERVE_MAX_QUEUED_PER_KEY") }
        /// `--io-queues`, else the environment's, else one per CPU.
        var ioQueueCount: Int { ioQueues ?? setting("SVISERVE_IO_QUEUES") ?? HTTPServer.Configuration.onlineCPUs }

        func validate() throws {
            guard (tlsFiles.certificate == nil) == (tlsFiles.key == nil) else {
                throw ValidationError("--tls-cert and --tls-key (SVISERVE_TLS_CERT, SVISERVE_TLS_KEY) go together: give both for HTTPS, neither for HTTP")
            }
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
            guard workerCount > 0, queue > 0, maxConnections > 0, ioQueueCount > 0, maxBufferedMb > 0 else {
                throw ValidationError("--workers, --queue, --max-connections, --io-queues and --max-buffered-mb must be positive")
            }
            guard leaseSeconds >= 1 && leaseSeconds.isFinite else { throw ValidationError("--lease-seconds must be a finite number, at least 1 (the heartbeat renews leases every second)") }
            guard retentionDays > 0, checkpointSeconds > 0, checkpointSteps > 0, (storeLimitMb ?? 1) > 0, maxJobSeconds > 0,
                  (runningPerKey ?? 1) > 0, (queuedPerKey ?? 1) > 0 else {
                throw ValidationError("--retention-days, --checkpoint-seconds, --checkpoint-steps, --store-limit-mb, --max-job-seconds, --max-running-per-key and --max-queued-per-key must be positive")
            }
            guard (64...(1 << 30)).contains(maxJobMemoryMb) else { throw ValidationError("--max-job-memory-mb must be from 64 to 1073741824") }
        }

        /// The certificate and key files, from the options or else the environment.
        var tlsFiles: (certificate: String?, key: String?) {
            let environment = ProcessInfo.processInfo.environment
            return (tlsCert ?? environment["SVISERVE_TLS_CERT"].flatMap { $0.isEmpty ? nil : $0 },
                    tlsKey ?? environment["SVISERVE_TLS_KEY"].flatMap { $0.isEmpty ? nil : $0 })
        }

        /// The API keys from the file or the variable; either one given but yielding no key is
        /// an error (fail closed), never "keys off".
        func apiKeys() throws -> APIKeys {
            if let file = keysFile ?? setting("SVISERVE_KEYS_FILE") { return try APIKeys(file: file) }
            if let list: String = setting("SVISERVE_API_KEYS") { return try APIKeys(list: list, source: "SVISERVE_API_KEYS") }
            return .none
        }

        /// The PostgreSQL database's URL from the option, the variable or the file (nil: the
        /// SQLite store); a file given but unreadable or empty is an error, never "SQLite".
        func databaseURL() throws -> String? {
            if let url = databaseUrl ?? setting("SVISERVE_DATABASE_URL"), !url.isEmpty { return url }
            guard let file = databaseUrlFile ?? setting("SVISERVE_DATABASE_URL_FILE"), !file.isEmpty else { return nil }
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                  case let url = text.trimmingCharacters(in: .whitespacesAndNewlines), !url.isEmpty else {
                throw ValidationError("--database-url-file (SVISERVE_DATABASE_URL_FILE) \(file) cannot be read or holds no URL")
            }
            return url
        }

        /// The key `/metrics` needs, from the option or the variable (none: open).
        func metricsKeys() throws -> APIKeys {
            guard let key = metricsKey ?? setting("SVISERVE_METRICS_KEY") else { return .none }
            return try APIKeys(list: key, source: "--metrics-key (SVISERVE_METRICS_KEY)")
        }

        func run() throws {
            let tls = try tlsFiles.certificate.flatMap { certificate in
                try tlsFiles.key.map { try TLSContext(certificateFile: certificate, keyFile: $0) }
            }
            let keys = try apiKeys(), metricsKeys = try metricsKeys(), databaseURL = try self.databaseURL()
            LinearAlgebra.configureThreads(1)
            ServerMemory.returnLargeBlocksWhenFreed()
            let log = LogSink.bufferedStandardError()
            defer { log.flush() }
            let store = openStore(databaseURL, log)
            // SVISERVE_WORKER_EXECUTABLE: the tests' worker with injected faults; not an option.
            let worker = ProcessInfo.processInfo.environment["SVISERVE_WORKER_EXECUTABLE"].map { WorkerCommand(executable: $0) } ?? .current
            var configuration = JobManagerConfiguration(
                workers: workerCount, queueCapacity: queue, checkpoint: CheckpointPolicy(steps: checkpointSteps, seconds: checkpointSeconds),
                retention: retentionDays * 86_400, worker: worker, maxJobSeconds: maxJobSeconds,
                maxRunningPerOwner: runningPerKey ?? .max, maxQueuedPerOwner: queuedPerKey ?? .max)
            configuration.validationLimits.maxJobBytes = maxJobMemoryMb << 20
            let manager = JobManager(store: store, configuration: configuration, log: log)
            let readiness = Readiness()
            let api = JobAPI(manager: manager, keys: keys, metricsKeys: metricsKeys, readiness: readiness)
            // The body limit is the spec's: a larger body could only be refused after buffering it.
            let http = HTTPServer.Configuration(host: host, port: port, limits: HTTPLimits(maxBodyLength: JSONLimits.default.maxBytes),
                                                maxBufferedBodyBytes: maxBufferedMb << 20, maxConnections: maxConnections,
                                                ioQueues: ioQueueCount, tls: tls) { reason in
                log.write([("event", "tls_handshake_failed"), ("reason", reason)])
            }
            let server = HTTPServer(configuration: http, responder: LoggedResponder(api.router(), log: log, metrics: api.requests))
            try server.start()
            log.flush()
            let listening: JSONObject = [
                "event": "listening", "host": .string(host), "port": .number(Double(server.port)), "workers": .number(Double(workerCount)),
                "api_keys": .bool(keys.isEnabled), "metrics_key": .bool(metricsKeys.isEnabled), "tls": .bool(tls != nil),
            ]
            FileHandle.standardError.write(Data((listening.serialized() + "\n").utf8))
            let stop = DispatchSemaphore(value: 0)
            var sources: [any DispatchSourceSignal] = []
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { stop.signal() }
                source.resume()
                sources.append(source)
            }
            stop.wait()
            readiness.drain()
            let checkpointed = manager.shutdown(timeout: 20)
            log.write([("event", "shutdown"), ("checkpointed_jobs", checkpointed.joined(separator: ",")), ("count", checkpointed.count)])
            let drained = DispatchSemaphore(value: 0)
            server.shutdown(grace: .seconds(5)) { drained.signal() }
            drained.wait()
            _ = sources
        }

        /// The PostgreSQL store of --database-url, else the SQLite store in the data directory
        /// (or memory with --in-memory); a store that
        /// cannot be opened leaves the service up, answering 503 with the reason.
        func openStore(_ databaseURL: String?, _ log: LogSink) -> any JobStore {
            if inMemory { return MemoryJobStore() }
            do {
                if let url = databaseURL {
                    return try PostgresJobStore(PostgresJobStoreConfiguration(url: url, leaseSeconds: leaseSeconds))
                }
                let limit = storeLimitMb ?? setting("SVISERVE_STORE_LIMIT_MB")
                return try SQLiteJobStore(.inDirectory(dataDir, maxBytes: limit.map { $0 << 20 }))
            } catch {
                let reason: String
                if case .unavailable(let r) = error { reason = r } else { reason = "\(error)" }
                log.write([("event", "store_unavailable"), ("error", reason)])
                return UnavailableJobStore(reason: reason)
            }
        }
    }

    /// `sviserve run FILE`: fits the job, showing progress, and prints a summary table (or the
    /// result as JSON).
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run a job spec to its result, without the service.")
        @Argument(help: "The job spec (JSON).") var file: String
        @Option(help: "Also write the result JSON to this file.") var out: String?
        @Option(help: "Override inference.steps.") var steps: Int?
        @Option(help: "Override inference.seed.") var seed: UInt64?
        @Flag(help: "Print the full result as JSON (params first, the ELBO trace last) instead of the summary table.") var json = false
        @Flag(help: "No progress output.") var quiet = false
        @Option(help: "Do not train: print the mean and standard error of this many gradient estimates at the initial params (of −ELBO, per unconstrained param element), to compare estimators.")
        var gradientSamples: Int?

        func run() throws {
            try reporting {
                LinearAlgebra.configureThreads(1)
                let job = try load(file, steps: steps, seed: seed)
                if let draws = gradientSamples {
                    guard (2...100_000_000).contains(draws) else { throw ValidationError("--gradient-samples must be from 2 to 100000000") }
                    let estimate: GradientEstimate
                    do {
                        let svi = try SVI(program: job.program, optimizer: job.inference.optimizer, seed: job.inference.seed)
                        estimate = try svi.gradientEstimate(draws: draws)
                    } catch { throw CommandFailure.jobFailed("\(file): \(error)") }
                    print(json ? ResultText.json(estimate) : ResultText.table(estimate), terminator: json ? "\n" : "")
                    return
                }
                let progress = ProgressBar(total: job.inference.steps, quiet: quiet)
                let result: JobResult
                do {
                    result = try JobRun(job).run(progress: { r in progress.report(step: r.step, elbo: r.elbo, gradNorm: r.gradientNorm) })
                } catch {
                    progress.finish()
                    throw CommandFailure.jobFailed("\(file): \(error)")
                }
                progress.finish()
                if let out {
                    do { try Data(ResultText.json(result).utf8).write(to: URL(fileURLWithPath: out)) } catch {
                        throw CommandFailure.unreadable("cannot write \(out): \(error.localizedDescription)")
                    }
                }
                print(json ? ResultText.json(result) : ResultText.table(result), terminator: json ? "\n" : "")
            }
        }
    }

    /// `sviserve validate FILE`: the same checks the API makes before queueing a job.
    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check a job spec without running it (exit status 65 when invalid).")
        @Argument(help: "The job spec (JSON).") var file: String

        func run() throws {
            try reporting {
                let job = try load(file)
                print("\(file): valid — \(job.sites.count) latent site(s): " + job.sites.map { "\($0.name) \($0.shape) \($0.estimator.label)" }.joined(separator: ", "))
                print("memory while it runs: about \(job.estimatedBytes >> 20) MiB (\(job.memory.breakdown))")
                for w in job.warnings { print("warning: \(w)") }
            }
        }
    }

    /// `sviserve schema`: the job language's JSON Schema (what `GET /v1/schema` serves).
    struct Schema: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the job spec's JSON Schema (for editors and validators).")
        func run() { print(JobSpecSchema.json) }
    }

    /// `sviserve bench [FILES]`: steps/s of each spec's SVI loop, as JSON. With no files, the
    /// benchmark's rows (``BenchmarkRow/all``, the rows `sviserve-bench` reports) compiled
    /// from their JSON specs.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Time the SVI steps of job specs, or of the benchmark's rows (release builds).")
        @Argument(help: "Job specs to time (none: the benchmark's rows, as sviserve-bench reports them).") var files: [String] = []
        @Option(help: "Seconds per spec.") var seconds: Double = 2

        func run() throws {
            LinearAlgebra.configureThreads(1)
            var rates = JSONObject()
            let jobs: [(kind: BenchmarkRow.Kind, job: () throws -> CompiledJob)] = files.isEmpty
                ? BenchmarkRow.all.map { row in (row.kind, { try compile(text: row.spec(), source: row.name) }) }
                : files.map { file in (.steps, { try load(file) }) }
            for (kind, make) in jobs {
                let job = try make()
                let rate: (wall: Double, cpu: Double)
                switch kind {
                case .steps:
                    let svi = try SVI(program: job.program, optimizer: job.inference.optimizer, seed: job.inference.seed)
                    rate = try timed { try svi.step() }
                case .replay:
                    let tape = job.program.tape
                    var step: UInt64 = 0
                    rate = timed { tape.step = step; step &+= 1; tape.forward(); tape.backward() }
                }
                var fields = JSONObject()
                fields["steps_per_s"] = .number(rate.wall)
                fields["cpu_steps_per_s"] = .number(rate.cpu)
                rates[job.name] = .object(fields)
                FileHandle.standardError.write("\(job.name): \(Int(rate.wall)) steps/s (\(Int(rate.cpu)) per CPU second)\n".data(using: .utf8)!)
            }
            print(JSONWriter.pretty(.object(rates)))
        }

        /// Runs `body` 100 times, then for at least `seconds`: its rate per second of wall time
        /// and of this thread's CPU time.
        func timed(_ body: () throws -> Void) rethrows -> (wall: Double, cpu: Double) {
            func cpuNow() -> Double {
                var t = timespec()
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
                return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
            }
            for _ in 0..<100 { try body() }
            var steps = 0, batch = 1
            let start = Date(), cpu0 = cpuNow()
            // At least one batch: descheduled between `start` and the first check (a loaded
            // machine, --seconds 0.01), a `while` loop ran no step and reported a rate of 0.
            repeat {
                for _ in 0..<batch { try body() }
                steps += batch
                batch = min(batch * 2, 1 << 14)
            } while Date().timeIntervalSince(start) < seconds
            return (Double(steps) / Date().timeIntervalSince(start), Double(steps) / max(cpuNow() - cpu0, 1e-9))
        }
    }
}
