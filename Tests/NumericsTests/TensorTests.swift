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
