import Foundation
import HTTPServer
import ModelSpec

/// What the server tells a worker process about the one job it runs: the spec as stored, the
/// checkpoint to continue from, and the service's settings and limits for it.
struct WorkerAssignment: Codable, Sendable {
    var jobID: String
    /// The spec's bytes, exactly as stored.
    var spec: Base64Bytes
    /// The encoded ``RunCheckpoint`` to continue from (nil: from step 0).
    var checkpoint: Base64Bytes?
    var checkpointSteps: Int
    var checkpointSeconds: Double
    /// Minimum seconds between two progress messages.
    var progressInterval: Double
    /// Minimum seconds between two params messages (the dashboard's running posterior).
    var paramsInterval: Double
    /// The bounds the spec was validated against, which its compilation here keeps to.
    var limits: Limits
    /// The service's limit on a job's training seconds (`--max-job-seconds`); the spec's
    /// `max_seconds` can only lower it.
    var maxJobSeconds: Double
    /// Address space the worker's own code and libraries take before any job (bytes).
    var memoryOverhead: Int
    /// The most address space a job may be given (bytes): the limit the worker starts under.
    var memoryCap: Int
}

/// Bytes carried in a JSON message as a base64 string (a spec or a checkpoint inside an
/// assignment: JSON has no bytes, and an array of numbers would be four times their size).
struct Base64Bytes: Codable, Sendable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Data(bytes).base64EncodedString())
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        guard let data = Data(base64Encoded: try c.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not base64")
        }
        bytes = Array(data)
    }
}

extension WorkerAssignment {
    /// ``ValidationLimits`` as the assignment carries them.
    struct Limits: Codable, Sendable {
        var maxJobBytes: Int, maxGraphBytes: Int, maxConstantElements: Int
        var maxFoldOperations: Double, maxValidationOperations: Double

        init(_ l: ValidationLimits) {
            maxJobBytes = l.maxJobBytes; maxGraphBytes = l.maxGraphBytes; maxConstantElements = l.maxConstantElements
            maxFoldOperations = l.maxFoldOperations; maxValidationOperations = l.maxValidationOperations
        }

        var validationLimits: ValidationLimits {
            ValidationLimits(maxJobBytes: maxJobBytes, maxGraphBytes: maxGraphBytes, maxConstantElements: maxConstantElements,
                             maxFoldOperations: maxFoldOperations, maxValidationOperations: maxValidationOperations)
        }
    }
}

/// One message between the server and a `sviserve worker` child over its standard input and
/// output. On the wire a message is a frame: one kind byte, the payload's length as four
/// little-endian bytes, then the payload. A worker runs one job: it receives an
/// ``assignment``, sends progress and checkpoints, and ends with exactly one of ``result``,
/// ``failed``, ``cancelled`` or ``suspended`` before it exits; anything else — a signal, an
/// exit without one, a malformed frame — is the worker stopping, which the server charges to
/// the job.
enum WorkerMessage: Sendable, Equatable {
    // Server to worker.
    /// The job to run (JSON).
    case assignment(Data)
    /// Stop without a result.
    case cancel
    /// Stop with a checkpoint to continue from (the service is shutting down).
    case suspend

    // Worker to server.
    /// The job is compiled: the memory limit the worker then set itself (bytes), and how long
    /// reading and compiling the spec took (nanoseconds).
    case compiled(memoryBytes: Int, nanoseconds: Int)
    /// A ``JobProgress`` (JSON).
    case progress(Data)
    /// A `params` event's data (JSON): running posterior moments and params.
    case params(Data)
    /// A checkpoint to save: its step and the encoded ``RunCheckpoint``.
    case checkpoint(step: Int, state: Data)
    /// Something to log (a JSON object of string fields).
    case note(Data)
    /// The job's result (``JobResult`` as JSON): the job succeeded.
    case result(Data)
    /// The job failed, with the reason.
    case failed(String)
    /// The job stopped at a cancel, with the reason.
    case cancelled(String)
    /// The job stopped at a suspend: the checkpoint to continue from, or none when it made no
    /// step since it started.
    case suspended(step: Int, state: Data?)

    fileprivate var kind: UInt8 {
        switch self {
        case .assignment: 1
        case .cancel: 2
        case .suspend: 3
        case .compiled: 10
        case .progress: 11
        case .checkpoint: 12
        case .note: 13
        case .result: 14
        case .failed: 15
        case .cancelled: 16
        case .suspended: 17
        case .params: 18
        }
    }

    fileprivate var payload: Data {
        switch self {
        case .assignment(let d), .progress(let d), .params(let d), .note(let d), .result(let d): d
        case .cancel, .suspend: Data()
        case .compiled(let bytes, let nanoseconds): Self.word(bytes) + Self.word(nanoseconds)
        case .checkpoint(let step, let state): Self.word(step) + state
        case .failed(let s), .cancelled(let s): Data(s.utf8)
        case .suspended(let step, let state): Self.word(step) + (state ?? Data())
        }
    }

    fileprivate init?(kind: UInt8, payload: Data) {
        func word(_ index: Int = 0) -> Int? {
            guard payload.count >= 8 * (index + 1) else { return nil }
            return payload.dropFirst(8 * index).prefix(8).withUnsafeBytes { Int(Int64(littleEndian: $0.loadUnaligned(as: Int64.self))) }
        }
        switch kind {
        case 1: self = .assignment(payload)
        case 2: self = .cancel
        case 3: self = .suspend
        case 10: guard let b = word(), let n = word(1) else { return nil }; self = .compiled(memoryBytes: b, nanoseconds: n)
        case 11: self = .progress(payload)
        case 12: guard let s = word() else { return nil }; self = .checkpoint(step: s, state: Data(payload.dropFirst(8)))
        case 13: self = .note(payload)
        case 14: self = .result(payload)
        case 15: self = .failed(String(decoding: payload, as: UTF8.self))
        case 16: self = .cancelled(String(decoding: payload, as: UTF8.self))
        case 17:
            guard let s = word() else { return nil }
            self = .suspended(step: s, state: payload.count > 8 ? Data(payload.dropFirst(8)) : nil)
        case 18: self = .params(payload)
        default: return nil
        }
    }

    private static func word(_ value: Int) -> Data {
        withUnsafeBytes(of: Int64(value).littleEndian) { Data($0) }
    }
}

/// Why a channel could not deliver a message.
enum WorkerChannelError: Error, Equatable {
    /// A frame's kind or payload is not a message.
    case malformed
    /// A frame's payload is larger than the reader accepts.
    case tooLarge(Int)
}

/// Frames over a pair of file descriptors (a pipe each way). Reads block; writes are whole
/// frames under a lock, so several threads may send.
final class WorkerChannel: @unchecked Sendable {
    // @unchecked: `buffer` is used only by the one reading thread; writes serialise on `writing`.
    private let input: Int32
    private let output: Int32
    private let writing = Locked(())
    private var buffer: [UInt8] = []

    init(reading input: Int32, writing output: Int32) { self.input = input; self.output = output }

    /// Writes `message` whole; false when the other end is gone.
    @discardableResult
    func send(_ message: WorkerMessage) -> Bool {
        let payload = message.payload
        var frame = Data([message.kind])
        frame.append(contentsOf: withUnsafeBytes(of: UInt32(payload.count).littleEndian) { Array($0) })
        frame.append(payload)
        return writing.withLock { _ in frame.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(output, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return false }
            }
            return true
        } }
    }

    /// The next message, waiting for it; nil at the end of the stream (the other side closed
    /// or exited). A payload over `maxPayload` bytes is refused before it is read.
    func receive(maxPayload: Int = .max) throws(WorkerChannelError) -> WorkerMessage? {
        guard fill(5) else { return nil }
        let kind = buffer[0]
        let length = Int(UInt32(buffer[1]) | UInt32(buffer[2]) << 8 | UInt32(buffer[3]) << 16 | UInt32(buffer[4]) << 24)
        guard length <= maxPayload else { throw .tooLarge(length) }
        guard fill(5 + length) else { return nil }
        let payload = Data(buffer[5..<(5 + length)])
        buffer.removeFirst(5 + length)
        guard let message = WorkerMessage(kind: kind, payload: payload) else { throw .malformed }
        return message
    }

    /// Reads until `count` bytes are buffered; false at the end of the stream.
    private func fill(_ count: Int) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while buffer.count < count {
            let n = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, min($0.count, count - buffer.count)) }
            if n > 0 { buffer.append(contentsOf: chunk[..<n]) } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }
}
