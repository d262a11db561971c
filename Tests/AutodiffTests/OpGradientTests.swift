import Testing
import Foundation
import Numerics
@testable import Autodiff

/// Every op's backward rule against central finite differences (relative 1e-6).
@Suite struct OpGradientTests {
    static let tolerance = 1e-6
    var rng = TestValues(seed: 42)

    typealias Unary = @Sendable (Graph, Node) -> Node
    static let unaryOps: [(String, Double, Double, Unary)] = [
        ("neg", -2, 2, { _, x in -x }),
        ("exp", -2, 2, { g, x in g.exp(x) }),
        ("log", 0.2, 3, { g, x in g.log(x) }),
        ("log1p", -0.5, 3, { g, x in g.log1p(x) }),
        ("expm1", -2, 2, { g, x in g.expm1(x) }),
        ("sqrt", 0.2, 3, { g, x in g.sqrt(x) }),
        ("abs", 0.1, 2, { g, x in g.abs(x - 1.05) }),
        ("sigmoid", -4, 4, { g, x in g.sigmoid(x) }),
        ("softplus", -30, 30, { g, x in g.softplus(x) }),
        ("logSigmoid", -30, 30, { g, x in g.logSigmoid(x) }),
        ("tanh", -2, 2, { g, x in g.tanh(x) }),
        ("square", -2, 2, { g, x in g.square(x) }),
        ("reciprocal", 0.3, 2, { g, x in g.reciprocal(x) }),
        ("sin", -3, 3, { g, x in g.sin(x) }),
        ("cos", -3, 3, { g, x in g.cos(x) }),
        ("logit", 0.05, 0.95, { g, x in g.logit(x) }),
        ("lgamma", 0.2, 6, { g, x in g.lgamma(x) }),
        ("digamma", 0.3, 6, { g, x in g.digamma(x) }),
        ("scale", -2, 2, { _, x in 2.5 * x }),
        ("shift", -2, 2, { _, x in x + 1.5 }),
        ("powScalar", 0.2, 2, { _, x in x.pow(2.7) }),
        ("clamp", -2, 2, { g, x in g.clamp(x, lower: -1.03, upper: 1.07) }),
        ("sumAll", -2, 2, { g, x in g.sum(x) }),
        ("sumLastAxis", -2, 2, { g, x in g.sum(x, axes: [-1]) }),
        ("sumFirstAxis", -2, 2, { g, x in g.sum(x, axes: [0]) }),
        ("meanKeepDims", -2, 2, { g, x in g.mean(x, axes: [0]) }),
        ("transpose", -2, 2, { g, x in g.transpose(x) * g.transpose(x) }),
        ("tril", -2, 2, { g, x in g.tril(x) * x }),
        ("diagOfMatrix", -2, 2, { g, x in g.diag(g.slice(x, axis: 1, 0..<3), embed: false) }),
        ("slice", -2, 2, { g, x in g.slice(x, axis: 1, 1..<3).square() }),
        ("softmaxLast", -2, 2, { g, x in g.softmax(x) }),
        ("softmaxFirst", -2, 2, { g, x in g.softmax(x, axis: 0) }),
        ("logSoftmax", -2, 2, { g, x in g.logSoftmax(x) }),
        ("logSoftmaxFirst", -2, 2, { g, x in g.logSoftmax(x, axis: 0) }),
        ("logsumexp", -2, 2, { g, x in g.logsumexp(x) }),
        ("logsumexpFirst", -2, 2, { g, x in g.logsumexp(x, axis: 0) }),
    ]

    @Test(arguments: unaryOps.map { $0.0 })
    func unaryBackwardMatchesFiniteDifferences(_ name: String) throws {
        let (_, lo, hi, f) = Self.unaryOps.first { $0.0 == name }!
        var r = rng
        let x = r.tensor([3, 4], lo, hi)
        let err = try gradientMismatch([x]) { g, p in f(g, p[0]) }
        #expect(err < Self.tolerance, "\(name): \(err)")
    }

    typealias Binary = @Sendable (Graph, Node, Node) -> Node
    static let binaryOps: [(String, Binary)] = [
        ("add", { _, a, b in a + b }), ("sub", { _, a, b in a - b }), ("mul", { _, a, b in a * b }),
        ("div", { _, a, b in a / b }), ("pow", { _, a, b in a.pow(b) }),
        ("maximum", { g, a, b in g.maximum(a, b) }), ("minimum", { g, a, b in g.minimum(a, b) }),
        ("xlogy", { g, a, b in g.xlogy(a, b) }),
    ]
    /// Shape pairs: equal, scalar either side, row and column broadcasting, and both.
    static let shapePairs: [([Int], [Int])] = [([3, 4], [3, 4]), ([3, 4], []), ([], [3, 4]), ([3, 4], [4]),
                                                ([3, 1], [1, 4]), ([2, 3, 4], [3, 1]), ([1], [3, 4])]

    @Test(arguments: binaryOps.map { $0.0 }, shapePairs.indices)
    func binaryBackwardBroadcastsLikeNumPy(_ name: String, _ pair: Int) throws {
        let f = Self.binaryOps.first { $0.0 == name }!.1
        var r = rng
        let (sa, sb) = Self.shapePairs[pair]
        let a = r.tensor(sa, 0.5, 2), b = r.tensor(sb, 0.5, 2)
        let err = try gradientMismatch([a, b]) { g, p in f(g, p[0], p[1]) }
        #expect(err < Self.tolerance, "\(name) \(sa) ⊕ \(sb): \(err)")
    }

    @Test(arguments: [([3, 4], [4, 2]), ([4], [4, 2]), ([3, 4], [4]), ([4], [4]), ([5, 3, 4], [4, 2]),
                      ([3, 4], [5, 4, 2]), ([5, 3, 4], [5, 4, 2]), ([3, 4], [5, 4, 1]), ([5, 3, 4], [4])])
    func matmulBackwardMatchesFiniteDifferences(_ sa: [Int], _ sb: [Int]) throws {
        var r = rng
        let a = r.tensor(sa), b = r.tensor(sb)
        let err = try gradientMismatch([a, b]) { g, p in g.matmul(p[0], p[1]) }
        #expect(err < Self.tolerance, "\(sa) @ \(sb): \(err)")
    }

    @Test func matmulMatchesNaiveProduct() throws {
        var r = rng
        let a = r.tensor([5, 3, 4]), b = r.tensor([4, 2])
        let g = Graph()
        let y = g.matmul(g.constant(a), g.constant(b))
        let tape = try g.compile(outputs: [y])
        tape.forward()
        let out = tape.value(of: y)
        #expect(out.shape == [5, 3, 2])
        for q in 0..<5 { for i in 0..<3 { for j in 0..<2 {
            var s = 0.0
            for k in 0..<4 { s += a[q, i, k] * b[k, j] }
            #expect(Swift.abs(out[q, i, j] - s) < 1e-12)
        } } }
    }

    @Test func gatherRoutesGradientToChosenRows() throws {
        var r = rng
        let mu = r.tensor([3, 2])
        let idx = Tensor(shape: [5], scalars: [2, 0, 2, 1, 2])
        let err = try gradientMismatch([mu]) { g, p in g.gather(p[0], index: g.constant(idx)).square() }
        #expect(err < Self.tolerance)
    }

    @Test func gatherOutOfRangeReportsFault() throws {
        let g = Graph()
        let index = g.input("z", shape: [2])
        let y = g.gather(g.constant(Tensor([1, 2, 3])), index: index)
        let tape = try g.compile(outputs: [y])
        tape.setValue(index, Tensor([0, 2]))
        tape.forward()
        #expect(tape.fault == nil)
        tape.setValue(index, Tensor([0, 3]))
        tape.forward()
        #expect(tape.fault?.kind == .indexOutOfRange)
    }

    @Test func faultsAmongConstantsFailTheCompile() {
        let g = Graph()
        _ = g.gather(g.constant(Tensor([1, 2, 3])), index: g.constant(Tensor([0, 3])))
        #expect(throws: GraphError.self) { try g.compile(outputs: [g.cholesky(g.constant(Tensor(rows: [[1, 2], [2, 1]])))]) }
    }

    @Test func diagEmbedsAndExtracts() throws {
        var r = rng
        let v = r.tensor([3])
        let err = try gradientMismatch([v]) { g, p in g.diag(p[0]).square() }
        #expect(err < Self.tolerance)
        let m = r.tensor([2, 3, 3])
        let err2 = try gradientMismatch([m]) { g, p in g.diag(p[0], embed: false).square() }
        #expect(err2 < Self.tolerance)
    }

    @Test func choleskyBackwardMatchesFiniteDifferences() throws {
        // A = B Bᵀ + 3I is positive definite; the op reads its lower triangle.
        var r = rng
        let b = r.tensor([3, 3])
        var a = Tensor.zeros([3, 3])
        for i in 0..<3 { for j in 0..<3 { var s = i == j ? 3.0 : 0; for k in 0..<3 { s += b[i, k] * b[j, k] }; a[i, j] = s } }
        let err = try gradientMismatch([a]) { g, p in g.cholesky(p[0]) }
        #expect(err < Self.tolerance)
    }

    @Test func choleskyOfIndefiniteMatrixReportsFault() throws {
        let g = Graph()
        let y = g.cholesky(g.parameter("a", Tensor(rows: [[1, 2], [2, 1]])))
        let tape = try g.compile(outputs: [y])
        tape.forward()
        #expect(tape.fault?.kind == .notPositiveDefinite)
    }

    @Test func fusedLogDensitiesMatchFiniteDifferences() throws {
        var r = rng
        let x = r.tensor([4, 3]), m = r.tensor([3]), s = r.tensor([4, 3], 0.5, 2)
        #expect(try gradientMismatch([x, m, s]) { g, p in g.normalLogProb(p[0], loc: p[1], scale: p[2]) } < Self.tolerance)
        let sc = r.tensor([], 0.5, 2)
        #expect(try gradientMismatch([x, m, sc]) { g, p in g.normalLogProb(p[0], loc: p[1], scale: p[2]) } < Self.tolerance)
        let y = Tensor(shape: [4, 3], scalars: (0..<12).map { Double($0 % 2) })
        let l = r.tensor([4, 3], -3, 3)
        #expect(try gradientMismatch([y, l]) { g, p in g.bernoulliLogProb(p[0], logits: p[1]) } < Self.tolerance)
        var tril = r.tensor([3, 3], -0.5, 0.5)
        for i in 0..<3 { tril[i, i] = 1 + Double(i) * 0.3; for j in (i + 1)..<3 { tril[i, j] = 0 } }
        let rows = r.tensor([5, 3])
        #expect(try gradientMismatch([rows, m, tril]) { g, p in g.mvnLogProb(p[0], loc: p[1], scaleTril: g.tril(p[2])) } < Self.tolerance)
        let locs = r.tensor([5, 3])
        #expect(try gradientMismatch([rows, locs, tril]) { g, p in g.mvnLogProb(p[0], loc: p[1], scaleTril: g.tril(p[2])) } < Self.tolerance)
    }

    /// The `lower_cholesky` map in one instruction: its value is the closed form (strict lower
    /// triangle kept, exp on the diagonal, zeros above) for a batch of matrices, and its
    /// gradient matches central differences; a non-square input fails at graph construction.
    @Test func lowerCholeskyFactorKeepsTheStrictLowerTriangleAndExponentiatesTheDiagonal() throws {
        var r = rng
        let x = r.tensor([2, 4, 4], -2, 2)
        #expect(try gradientMismatch([x]) { g, p in g.lowerCholeskyFactor(p[0]) } < Self.tolerance)
        let g = Graph()
        let y = g.lowerCholeskyFactor(g.constant(x))
        let tape = try g.compile(outputs: [y])
        tape.forward()
        let out = tape.value(of: y).scalars
        for b in 0..<2 { for i in 0..<4 { for j in 0..<4 {
            let k = b * 16 + i * 4 + j
            let expected = j < i ? x.scalars[k] : (j == i ? Foundation.exp(x.scalars[k]) : 0)
            #expect(Swift.abs(out[k] - expected) <= 2 * Double.ulpOfOne * Swift.abs(expected), "[\(b), \(i), \(j)]")
        } } }
        let bad = Graph()
        _ = bad.lowerCholeskyFactor(bad.constant(Tensor(rows: [[1, 2, 3], [4, 5, 6]])))
        #expect(throws: (any Error).self) { try bad.compile(outputs: []) }
    }

    @Test func stickBreakingMapsOntoTheSimplexWithExactGradient() throws {
        var r = rng
        let x = r.tensor([2, 3], -2, 2)
        #expect(try gradientMismatch([x]) { g, p in g.stickBreaking(p[0]) } < Self.tolerance)
        let g = Graph()
        let y = g.stickBreaking(g.constant(Tensor([0, 0, 0])))
        let tape = try g.compile(outputs: [y])
        tape.forward()
        // torch's offsets make x = 0 the centre of the simplex.
        for p in tape.value(of: y).scalars { #expect(Swift.abs(p - 0.25) < 1e-15) }
    }

    @Test func argmaxAndOneHotPickTheLargest() throws {
        let g = Graph()
        let x = g.constant(Tensor(rows: [[0.1, 0.7, 0.2], [3, -1, 2]]))
        let i = g.argmax(x)
        let h = g.oneHot(i, classes: 3)
        let tape = try g.compile(outputs: [h])
        tape.forward()
        #expect(tape.value(of: i).scalars == [1, 0])
        #expect(tape.value(of: h).scalars == [0, 1, 0, 1, 0, 0])
    }

    /// The first largest entry of each row, a NaN never larger than anything: k = 3 (its
    /// unrolled loop) and k = 4 (the general one), with ties and NaNs in every position.
    @Test(arguments: [3, 4])
    func argmaxTakesTheFirstLargestAndNeverANaN(k: Int) throws {
        let values: [Double] = [0, 1, 2, .nan]
        var rows: [[Double]] = [[]]
        for _ in 0..<k { rows = rows.flatMap { r in values.map { r + [$0] } } }
        let g = Graph()
        let x = g.constant(Tensor(shape: [rows.count, k], scalars: rows.flatMap { $0 }))
        let i = g.argmax(x)
        let tape = try g.compile(outputs: [i])
        tape.forward()
        let expected = rows.map { row -> Double in
            var best = 0
            for j in 1..<k where row[j] > row[best] { best = j }
            return Double(best)
        }
        #expect(tape.value(of: i).scalars == expected)
    }

    @Test func xlogyIsZeroWhereXIsZero() throws {
        let g = Graph()
        let y = g.xlogy(g.constant(Tensor([0, 2])), g.constant(Tensor([0, 3])))
        let tape = try g.compile(outputs: [y])
        tape.forward()
        #expect(tape.value(of: y).scalars == [0, 2 * Foundation.log(3)])
    }

    /// A Gamma or Beta concentration of exactly 1 makes the `(α − 1) log z` term's first
    /// argument 0: its gradient is still log z (found by the Pyro conformance suite, where a
    /// guide initialised at α = 1 lost the term).
    @Test func xlogyHasTheGradientLogYWhereXIsZero() throws {
        let g = Graph()
        let x = g.parameter("x", Tensor([0, 0.5, 0]))
        let loss = g.sum(g.xlogy(x, g.constant(Tensor([3, 2, 0]))))
        let tape = try g.compile(loss: loss, outputs: [loss])
        tape.forward()
        tape.backward()
        #expect(tape.gradient(of: x).scalars == [Foundation.log(3), Foundation.log(2), 0])
    }

    @Test func pickTakesOneEntryPerRow() throws {
        var r = rng
        let x = r.tensor([4, 3])
        let idx = Tensor([2, 0, 1, 2])
        #expect(try gradientMismatch([x]) { g, p in g.pick(p[0], index: g.constant(idx)).square() } < Self.tolerance)
        // Rows broadcast to a batch of indices (particles × data).
        let row = r.tensor([3])
        #expect(try gradientMismatch([row]) { g, p in g.pick(p[0], index: g.constant(idx)).square() } < Self.tolerance)
    }

    @Test func reshapeStackAndPermuteRouteGradients() throws {
        var r = rng
        let x = r.tensor([2, 3, 4])
        #expect(try gradientMismatch([x]) { g, p in g.reshape(p[0], [6, 4]).square() } < Self.tolerance)
        #expect(try gradientMismatch([x]) { g, p in g.permute(p[0], [2, 0, 1]).square() } < Self.tolerance)
        let y = r.tensor([3, 4])
        #expect(try gradientMismatch([y, y]) { g, p in g.stack([p[0], p[1].square()]) } < Self.tolerance)
    }

    /// A rule written outside the engine: y = x³ with dy/dx = 3x².
    final class Cube: CustomOperation {
        func forward(inputs: [UnsafeBufferPointer<Double>], output: UnsafeMutableBufferPointer<Double>) {
            for i in 0..<output.count { output[i] = inputs[0][i] * inputs[0][i] * inputs[0][i] }
        }
        func backward(inputs: [UnsafeBufferPointer<Double>], output: UnsafeBufferPointer<Double>,
                      outputAdjoint: UnsafeBufferPointer<Double>, inputAdjoints: [UnsafeMutableBufferPointer<Double>?]) {
            guard let ga = inputAdjoints[0] else { return }
            for i in 0..<ga.count { ga[i] += 3 * inputs[0][i] * inputs[0][i] * outputAdjoint[i] }
        }
    }

    @Test func customRulesAttachToANode() throws {
        var r = rng
        let x = r.tensor([5])
        #expect(try gradientMismatch([x]) { g, p in g.custom(Cube(), inputs: [p[0]], shape: [5]) * 2.0 } < Self.tolerance)
    }

    @Test func subsampleDrawsDistinctIndicesUniformly() throws {
        let g = Graph()
        let idx = g.subsampleIndices(size: 3, population: 10, stream: 5)
        let tape = try g.compile(outputs: [idx])
        var counts = Array(repeating: 0.0, count: 10)
        let reps = 20_000
        for step in 0..<reps {
            tape.step = UInt64(step)
            tape.forward()
            let v = tape.value(of: idx).scalars.map { Int($0) }
            #expect(Set(v).count == 3 && v.allSatisfy { (0..<10).contains($0) })
            for i in v { counts[i] += 1 }
        }
        // Each index is included with probability 0.3: binomial standard error per count.
        let p = 0.3, se = (Double(reps) * p * (1 - p)).squareRoot()
        for c in counts { #expect(Swift.abs(c - Double(reps) * p) < 4 * se) }
    }

    /// The fused Σ log Bernoulli(y | X·w) equals the unfused sum and its gradient equals central
    /// differences, for one and several particles and blocks of rows (N > the block size).
    @Test(arguments: [(1, 7), (3, 7), (2, 600)])
    func fusedLinearBernoulliMatchesTheUnfusedGraph(_ particles: Int, _ rows: Int) throws {
        var r = rng
        let x = r.tensor([rows, 3]), w = r.tensor([particles, 3])
        let y = Tensor((0..<rows).map { Double(($0 * 7) % 3 == 0 ? 1 : 0) })
        func build(fused: Bool) throws -> (Tape, Node, Node) {
            let g = Graph()
            let wp = g.parameter("w", w)
            let logits = g.reshape(g.matmul(g.constant(x), g.reshape(wp, [particles, 3, 1])), [particles, rows])
            let lp = g.bernoulliLogProb(g.constant(y), logits: logits)
            let loss = fused ? g.sum(lp) : g.sum(g.sum(lp, axes: [0, 1], keepDims: true))
            let tape = try g.compile(loss: loss)
            #expect(tape.appliedFusions.contains { $0.fusion == .linearBernoulliSum && $0.node == loss.id } == fused)
            return (tape, wp, loss)
        }
        let (ft, fw, fl) = try build(fused: true), (ut, uw, ul) = try build(fused: false)
        ft.forward(); ft.backward(); ut.forward(); ut.backward()
        #expect(Swift.abs(ft.scalar(of: fl) - ut.scalar(of: ul)) < 1e-10 * Swift.abs(ut.scalar(of: ul)))
        let fg = ft.gradient(of: fw).scalars, ug = ut.gradient(of: uw).scalars
        for i in 0..<fg.count {
            #expect(Swift.abs(fg[i] - ug[i]) < 1e-10 * Swift.max(1, Swift.abs(ug[i])))
            let fd = centralDifference(ft, fl, fw, at: w, i, step: 1e-6)
            #expect(Swift.abs(fd - fg[i]) < 1e-6 * Swift.max(1, Swift.abs(fg[i])))
        }
    }

    @Test func stopGradientBlocksTheGradient() throws {
        let g = Graph()
        let x = g.parameter("x", Tensor([1.5, -2]))
        let loss = g.sum(x * g.stopGradient(x))
        let tape = try g.compile(loss: loss)
        tape.forward(); tape.backward()
        #expect(tape.gradient(of: x).scalars == [1.5, -2])
    }

    @Test func straightThroughPassesGradientToSoftValue() throws {
        let g = Graph()
        let soft = g.parameter("soft", Tensor([0.2, 0.7]))
        let hard = g.constant(Tensor([0, 1]))
        let st = g.straightThrough(hard: hard, soft: soft)
        let loss = g.sum(st * g.constant(Tensor([3, 5])))
        let tape = try g.compile(loss: loss)
        tape.forward(); tape.backward()
        #expect(tape.value(of: st).scalars == [0, 1])
        #expect(tape.gradient(of: soft).scalars == [3, 5])
    }

    @Test func shapeMismatchIsReportedAtCompile() {
        let g = Graph()
        _ = g.constant(Tensor([1, 2, 3])) + g.constant(Tensor([1, 2]))
        #expect(throws: GraphError.self) { try g.compile() }
    }
}
