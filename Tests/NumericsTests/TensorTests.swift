import Testing
@testable import Numerics

@Suite struct TensorTests {
    @Test func broadcastShapesFollowNumPy() throws {
        #expect(try Shape.broadcast([3, 1], [1, 4]) == [3, 4])
        #expect(try Shape.broadcast([2], [5, 1]) == [5, 2])
        #expect(try Shape.broadcast([], [2, 3]) == [2, 3])
        #expect(throws: ShapeError.self) { try Shape.broadcast([3], [4]) }
    }

    @Test func broadcastIndexMapRepeatsRowsAndColumns() throws {
        #expect(try Shape.broadcastIndexMap(from: [3, 1], to: [3, 2]) == [0, 0, 1, 1, 2, 2])
        #expect(try Shape.broadcastIndexMap(from: [2], to: [3, 2]) == [0, 1, 0, 1, 0, 1])
        #expect(try Shape.broadcastIndexMap(from: [], to: [2]) == [0, 0])
    }

    @Test func stridedMapTransposes() {
        #expect(Shape.stridedIndexMap(shape: [3, 2], strides: [1, 3]) == [0, 3, 1, 4, 2, 5])
    }

    @Test func tensorBroadcastCopiesValues() throws {
        let t = Tensor([1, 2])
        #expect(try t.broadcast(to: [2, 2]).scalars == [1, 2, 1, 2])
        #expect(Tensor.eye(2).scalars == [1, 0, 0, 1])
    }
}

@Suite struct TensorArithmeticTests {
    @Test func arithmeticBroadcastsLikeNumPy() throws {
        let a = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        #expect((a + Tensor([10, 20, 30])).scalars == [11, 22, 33, 14, 25, 36])
        #expect((a * Tensor(shape: [2, 1], scalars: [2, 3])).scalars == [2, 4, 6, 12, 15, 18])
        #expect((Tensor(2) - a).shape == [2, 3])
        #expect(throws: ShapeError.self) { try Tensor.broadcasting(a, Tensor([1, 2]), +) }
    }

    @Test func sumsOverAxes() {
        let a = Tensor(rows: [[1, 2, 3], [4, 5, 6]])
        #expect(a.sum().scalars == [21])
        #expect(a.sum(axes: [0]).scalars == [5, 7, 9])
        #expect(a.sum(axes: [-1]).scalars == [6, 15])
    }
}
