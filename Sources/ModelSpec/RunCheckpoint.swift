import Foundation
import Inference

/// A job's checkpoint, as the service stores it: the runner's (``SVIRunner/Checkpoint``:
/// parameters, optimiser, baselines, seed, step, ELBO trace and final-ELBO window, seconds)
/// and W₂ to the spec's references at the steps measured so far. With it a fresh
/// ``JobRun`` of the same compiled job continues exactly as the uninterrupted run would, so
/// the result is bit for bit the same (timings aside).
public struct RunCheckpoint: Codable, Equatable, Sendable {
    /// Where the training loop stands.
    public var run: SVIRunner.Checkpoint
    /// W₂ to the transport references at the steps computed so far.
    public var transport: [TransportProgress]

    public init(run: SVIRunner.Checkpoint, transport: [TransportProgress] = []) {
        self.run = run; self.transport = transport
    }

    /// Steps completed.
    public var step: Int { run.step }

    enum CodingKeys: String, CodingKey { case svi, trace, recent, seconds, transport }

    // The trace (up to 1000 points) and the final-ELBO window are most of a small model's
    // checkpoint: they are stored as raw little-endian bytes in base64 (exact, and ~50× faster
    // to encode than decimal text), the rest as ordinary Codable values.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(run.svi, forKey: .svi)
        var trace = [UInt64](), recent = [UInt64]()
        trace.reserveCapacity(2 * run.trace.count)
        for p in run.trace { trace.append(UInt64(bitPattern: Int64(p.step)).littleEndian); trace.append(p.elbo.bitPattern.littleEndian) }
        for x in run.recent { recent.append(x.bitPattern.littleEndian) }
        try c.encode(trace.withUnsafeBytes { Data($0) }.base64EncodedString(), forKey: .trace)
        try c.encode(recent.withUnsafeBytes { Data($0) }.base64EncodedString(), forKey: .recent)
        try c.encode(run.seconds, forKey: .seconds)
        if !transport.isEmpty { try c.encode(transport, forKey: .transport) }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func words(_ key: CodingKeys) throws -> [UInt64] {
            guard let data = Data(base64Encoded: try c.decode(String.self, forKey: key)) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not base64")
            }
            guard data.count % 8 == 0 else { throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a whole number of 8-byte words") }
            return data.withUnsafeBytes { raw in (0..<data.count / 8).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self)) } }
        }
        let t = try words(.trace)
        guard t.count % 2 == 0 else { throw DecodingError.dataCorruptedError(forKey: .trace, in: c, debugDescription: "odd trace length") }
        run = SVIRunner.Checkpoint(
            svi: try c.decode(SVIState.self, forKey: .svi),
            trace: stride(from: 0, to: t.count, by: 2).map { TracePoint(step: Int(Int64(bitPattern: t[$0])), elbo: Double(bitPattern: t[$0 + 1])) },
            recent: try words(.recent).map(Double.init(bitPattern:)),
            seconds: try c.decode(Double.self, forKey: .seconds))
        transport = try c.decodeIfPresent([TransportProgress].self, forKey: .transport) ?? []
    }
}
