import JSON
import Testing
import Foundation
import Numerics
import Autodiff
@testable import ModelSpec

/// Expressions are written for one particle; the compiler keeps the particle axis aside and
/// lines it up for broadcasting, products, indexing and reductions. Each case compares the
/// compiled value, particle by particle, with the same arithmetic done by hand on the draws.
@Suite struct ExpressionCompilationTests {
    static let particles = 3
    /// Data X [4, 2], v [2], idx [5] (integers), and a guide draw w [2] per particle.
    static let spec = """
    {"data": {"X": [[1, 2], [3, 4], [5, 6], [7, 8]], "v": [0.5, -1.5], "idx": [1, 0, 1, 1, 0]},
     "guide": [{"sample": "w", "dist": "Normal", "args": {"loc": [0.3, -0.2], "scale": 1}, "event_dims": 1}],
     "model": [{"sample": "w", "dist": "Normal", "args": {"loc": 0, "scale": 1}, "event_dims": 1}],
     "inference": {"particles": \(particles)}}
    """

    /// The compiled expression's value and the draws of w, shape [P, 2].
    func evaluate(_ text: String) throws -> (value: Tensor, w: [[Double]]) {
        let spec = try SpecDecoder.decode(try JSONParser.parse(Self.spec))
        let c = Compilation(spec)
        for entry in spec.data { c.define(entry.name, .init(value: Value(node: c.graph.constant(entry.value), lead: 0), kind: .data, pointer: entry.pointer)) }
        guard case let .statements(guide) = spec.guide else { throw SpecErrors([]) }
        for s in guide { c.statement(s, inGuide: true) }
        let value = try #require(c.evaluate(text, at: JSONPointer(), site: nil), "\(c.diagnostics.all)")
        let w = c.env["w"]!.value.node
        let tape = try c.graph.compile(outputs: [value.node, w])
        tape.seed = 5
        tape.forward()
        let ws = tape.value(of: w)
        return (tape.value(of: value.node), (0..<Self.particles).map { p in [ws.scalars[2 * p], ws.scalars[2 * p + 1]] })
    }

    @Test func broadcastingLinesParticlesUpWithParticles() throws {
        let (out, w) = try evaluate("X * w + v")
        #expect(out.shape == [Self.particles, 4, 2])
        for p in 0..<Self.particles { for i in 0..<4 { for j in 0..<2 {
            #expect(out[p, i, j] == Double(2 * i + j + 1) * w[p][j] + [0.5, -1.5][j])
        } } }
    }

    @Test func matrixTimesDrawnVectorIsPerParticle() throws {
        let (out, w) = try evaluate("X @ w")
        #expect(out.shape == [Self.particles, 4])
        for p in 0..<Self.particles { for i in 0..<4 {
            #expect(Swift.abs(out[p, i] - (Double(2 * i + 1) * w[p][0] + Double(2 * i + 2) * w[p][1])) < 1e-12)
        } }
        let (dot, w2) = try evaluate("w @ v")
        #expect(dot.shape == [Self.particles])
        for p in 0..<Self.particles { #expect(Swift.abs(dot[p] - (0.5 * w2[p][0] - 1.5 * w2[p][1])) < 1e-12) }
    }

    @Test func indexingADrawnVectorPicksPerParticle() throws {
        let (out, w) = try evaluate("w[idx]")
        #expect(out.shape == [Self.particles, 5])
        for p in 0..<Self.particles { for (k, i) in [1, 0, 1, 1, 0].enumerated() { #expect(out[p, k] == w[p][i]) } }
        let (rows, _) = try evaluate("X[idx]")
        #expect(rows.shape == [5, 2] && rows[0, 0] == 3 && rows[1, 1] == 2)
    }

    @Test func reductionsAndAxesArePerParticle() throws {
        let (s, w) = try evaluate("sum(w)")
        #expect(s.shape == [Self.particles])
        for p in 0..<Self.particles { #expect(Swift.abs(s[p] - (w[p][0] + w[p][1])) < 1e-12) }
        let (m, _) = try evaluate("mean(X, 0)")
        #expect(m.scalars == [4, 5])
        let (sm, w3) = try evaluate("softmax(w)")
        for p in 0..<Self.particles {
            let z = Foundation.exp(w3[p][0]) + Foundation.exp(w3[p][1])
            #expect(Swift.abs(sm[p, 0] - Foundation.exp(w3[p][0]) / z) < 1e-12)
        }
        let (l, _) = try evaluate("len(X) + sum(diag(eye(3)))")
        #expect(l.scalar == 7)
    }

    @Test func arraysOfDrawnValuesStackBehindTheParticles() throws {
        let (out, w) = try evaluate("[w, 2 * w]")
        #expect(out.shape == [Self.particles, 2, 2])
        for p in 0..<Self.particles { #expect(out[p, 1, 0] == 2 * w[p][0] && out[p, 0, 1] == w[p][1]) }
    }
}
