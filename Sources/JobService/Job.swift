import Foundation
import ModelSpec

/// Where a job is in its life. `queued` → `running` → one of the terminal states.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Whether the job will not change any more.
    public var isTerminal: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// The latest progress of a running job (api.md's `progress`).
public struct JobProgress: Codable, Equatable, Sendable {
    public var step: Int
    public var steps: Int
    public var elbo: Double?
    public var elboSmoothed: Double?
    public var gradNorm: Double?
    public var stepsPerSecond: Double?
    /// W₂ to each transport reference, on the report steps where it was computed
    /// (docs/transport.md); in progress events only.
    public var transport: [NamedTransportDistance]?

    public init(step: Int = 0, steps: Int, elbo: Double? = nil, elboSmoothed: Double? = nil, gradNorm: Double? = nil, stepsPerSecond: Double? = nil,
                transport: [NamedTransportDistance]? = nil) {
        self.step = step; self.steps = steps; self.elbo = elbo; self.elboSmoothed = elboSmoothed
        self.gradNorm = gradNorm; self.stepsPerSecond = stepsPerSecond; self.transport = transport
    }

    enum CodingKeys: String, CodingKey {
        case step, steps, elbo, elboSmoothed = "elbo_smoothed", gradNorm = "grad_norm", stepsPerSecond = "steps_per_second", transport
    }
}

/// One job: what was asked (the spec's bytes and digest), by whom, and what has happened.
public struct JobRecord: Codable, Equatable, Sendable {
    public let id: String
    public var name: String
    /// The submitting API key's digest (empty when the service runs without keys).
    public let owner: String
    public var status: JobStatus
    public let createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    public var progress: JobProgress
    public let specDigest: String
    public var error: String?
    public var result: JobResult?
    /// The submitted spec, exactly as received (empty in records a store reads without it).
    public var spec: [UInt8]
    /// Set when a cancel was asked for while running; the worker stops at its next step.
    public var cancelRequested: Bool
    /// The id of the job's last event as of its last checkpoint or its end (0: none saved);
    /// after a restart its events continue above it.
    public var lastEventID: Int
    /// Claims of the job that did not end cleanly or are under way: each claim counts one, a
    /// clean hand-back (a suspension when the service stops) gives it back. A job whose
    /// workers stopped (or that was running at a crash) this many times is quarantined.
    public var attempts: Int
    /// The spec's `tags` (a list filter: `GET /v1/jobs?tag=`).
    public var tags: [String] = []

    public init(id: String, name: String, owner: String, createdAt: Date, steps: Int, specDigest: String, spec: [UInt8]) {
        self.id = id; self.name = name; self.owner = owner; status = .queued; self.createdAt = createdAt
        progress = JobProgress(steps: steps); self.specDigest = specDigest; self.spec = spec; cancelRequested = false
        lastEventID = 0; attempts = 0
    }
}
