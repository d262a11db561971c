import Foundation
import Testing
@testable import JobService

/// Job events are typed values; their JSON text (api.md) is written only at the stream edge
/// and read back only where another process stored it.
@Suite struct JobEventTests {
    static let payloads: [JobEvent.Payload] = [
        .status(.queued), .status(.running), .status(.queued, reason: "the worker stopped; see /docs"),
        .status(.cancelled, reason: ""), .status(.cancelled, reason: "cancelled at step 12"),
        .progress(JobProgress(step: 3, steps: 10, elbo: -1.5, elboSmoothed: -1.25, gradNorm: 0.5, stepsPerSecond: 1000)),
        .snapshot(JobSnapshot(step: 3, sites: [.init(site: "z", estimator: "reparam", shape: [2], mean: [0.1, 0.2], sd: [1, 2])],
                              params: [.init(name: "loc", shape: [], values: [0.25])])),
        .result(nil), .failed("the spec no longer compiles: \"x\""),
    ]

    @Test func statusTextIsWhatTheStreamAlwaysSent() {
        #expect(JobEvent.Payload.status(.queued).text == #"{"status":"queued"}"#)
        #expect(JobEvent.Payload.status(.running).text == #"{"status":"running"}"#)
        #expect(JobEvent.Payload.status(.queued, reason: "retry").text == #"{"error":"retry","status":"queued"}"#)
        #expect(JobEvent.Payload.status(.cancelled, reason: "").text == #"{"error":"","status":"cancelled"}"#)
        #expect(JobEvent.Payload.failed("boom").text == #"{"error":"boom","status":"failed"}"#)
        #expect(JobEvent.Payload.result(nil).text == "{}")
        #expect(JobEvent.Payload.progress(JobProgress(step: 1, steps: 2, elbo: -3)).text == #"{"elbo":-3,"step":1,"steps":2}"#)
    }

    @Test(arguments: payloads)
    func textReadsBackToTheSamePayload(_ payload: JobEvent.Payload) {
        let event = JobEvent(id: 7, payload: payload)
        #expect(JobEvent.Payload(kind: event.kind, text: payload.text) == payload)
    }

    @Test func whetherAStreamEndsIsDecidedByTheEventsTypeNotItsText() {
        #expect(!JobEvent(id: 1, payload: .status(.queued, reason: "the job was not cancelled; it failed once")).isTerminal)
        #expect(!JobEvent(id: 1, payload: .progress(JobProgress(steps: 1))).isTerminal)
        #expect(JobEvent(id: 1, payload: .status(.cancelled)).isTerminal)
        #expect(JobEvent(id: 1, payload: .failed("")).isTerminal)
        #expect(JobEvent(id: 1, payload: .result(nil)).isTerminal)
    }

    @Test func theLogKeepsOnlyTheNewestSnapshotsAndClosesAtTheEnd() {
        let log = JobEventLog(keptProgress: 2)
        log.append(.status(.running))
        for step in 0..<5 { log.append(.snapshot(JobSnapshot(step: step, sites: [], params: []))) }
        #expect(log.events(after: 0).events.map(\.kind) == [.status, .params, .params])
        log.append(.status(.queued, reason: "cancelled? no: the worker stopped"))
        #expect(!log.events(after: 0).finished)
        log.append(.status(.cancelled, reason: "asked"))
        #expect(log.events(after: 0).finished)
    }
}
