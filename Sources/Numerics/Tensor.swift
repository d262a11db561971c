/// A dense, row-major Float64 array with a shape: the engine's value type for data,
/// parameters and results. Storage is contiguous; a scalar has shape `[]` and one element.
///
/// `Tensor` is for building and reading values, not for the hot path: compiled graphs keep
/// their own preallocated buffers and copy tensors in and out of them.
public struct Tensor: Equatable, Hashable, Sendable, CustomStringConvertible {
    /// Extent of each axis, outermost first.
    public var shape: [Int]
    /// Elements in row-major order; `scalars.count == shape.product`.
    public var scalars: [Double]

    /// A tensor of the given shape holding `scalars` in row-major order.
    /// - Precondition: `scalars.count` equals the product of `shape`, every extent ≥ 0.
    public init(shape: [Int], scalars: [Double]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(Shape.count(shape) == scalars.count,
                     "shape \(shape) needs \(Shape.count(shape)) elements, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of `shape` with every element `value`.
    public init(repeating value: Double, shape: [Int]) {
        self.init(shape: shape, scalars: Array(repeating: value, count: Shape.count(shape)))
    }

    /// A scalar (shape `[]`).
    public init(_ value: Double) { self.init(shape: [], scalars: [value]) }

    /// A vector (shape `[n]`).
    public init(_ values: [Double]) { self.init(shape: [values.count], scalars: values) }

    /// A matrix from rows of equal length (shape `[rows, cols]`).
    public init(rows: [[Double]]) {
        let cols = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == cols }, "ragged rows")
        self.init(shape: [rows.count, cols], scalars: rows.flatMap { $0 })
    }

    /// All zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// All ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }
    /// The `n × n` identity.
    public static func eye(_ n: Int) -> Tensor {
        var t = zeros([n, n])
        for i in 0..<n { t.scalars[i * n + i] = 1 }
        return t
    }

    /// Number of axes.
    public var rank: Int { shape.count }
    /// Number of elements.
    public var count: Int { scalars.count }
    /// The only element of a one-element tensor.
    public var scalar: Double {
        precondition(scalars.count == 1, "tensor of shape \(shape) is not a scalar")
        return scalars[0]
    }

    /// Element at a multi-index.
    public subscript(_ index: Int...) -> Double {
        get { scalars[Shape.offset(of: index, in: shape)] }
        set { scalars[Shape.offset(of: index, in: shape)] = newValue }
    }

    /// The same elements under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor { Tensor(shape: newShape, scalars: scalars) }

    /// This tensor repeated to `target` under NumPy broadcasting rules.
    public func broadcast(to target: [Int]) throws(ShapeError) -> Tensor {
        let map = try Shape.broadcastIndexMap(from: shape, to: target)
        return Tensor(shape: target, scalars: map.map { scalars[$0] })
    }

    /// Element-wise map.
    public func map(_ f: (Double) -> Double) -> Tensor { Tensor(shape: shape, scalars: scalars.map(f)) }

    public var description: String { "Tensor(shape: \(shape), \(scalars))" }
}

/// Why two shapes cannot be combined.
public struct ShapeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A sentence naming both shapes.
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Shape arithmetic: element counts, strides, NumPy broadcasting and the index maps that the
/// compiled graph uses to broadcast and reduce without per-element shape logic.
public enum Shape {
    /// Product of extents (1 for a scalar), or `Int.max` when the product does not fit an
    /// `Int` (or an extent is negative): shapes come from users, so a count never traps, and a
    /// size check against any limit refuses the saturated value.
    public static func count(_ shape: [Int]) -> Int { checkedCount(shape) ?? .max }

    /// Product of extents, or nil when it overflows an `Int` or an extent is negative.
    public static func checkedCount(_ shape: [Int]) -> Int? {
        if shape.contains(0) && shape.allSatisfy({ $0 >= 0 }) { return 0 }
        var n = 1
        for e in shape {
            guard e >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: e)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// Row-major strides in elements.
    public static func strides(_ shape: [Int]) -> [Int] {
        var s = Array(repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
        return s
    }

    /// Flat offset of a multi-index; traps when out of range.
    public static func offset(of index: [Int], in shape: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not match shape \(shape)")
        var off = 0
        for (i, (k, n)) in zip(index, shape).enumerated() {
            precondition(k >= 0 && k < n, "index \(k) out of range 0..<\(n) on axis \(i)")
            off = off * n + k
        }
        return off
    }

    /// The NumPy broadcast of two shapes: right-aligned, extents equal or one of them 1.
    public static func broadcast(_ a: [Int], _ b: [Int]) throws(ShapeError) -> [Int] {
        let r = max(a.count, b.count)
        var out = Array(repeating: 1, count: r)
        for i in 0..<r {
            let x = i < r - a.count ? 1 : a[i - (r - a.count)]
            let y = i < r - b.count ? 1 : b[i - (r - b.count)]
            if x == y || y == 1 { out[i] = x } else if x == 1 { out[i] = y } else {
                throw ShapeError("shapes \(a) and \(b) do not broadcast (axis \(i): \(x) vs \(y))")
            }
        }
        return out
    }

    /// Broadcast of many shapes.
    public static func broadcast(_ shapes: [[Int]]) throws(ShapeError) -> [Int] {
        var out: [Int] = []
        for s in shapes { out = try broadcast(out, s) }
        return out
    }

    /// For every element of `target` (row-major), the flat index of the element of a tensor of
    /// shape `source` that broadcasting places there. Summing adjoints through this map is the
    /// reduction that undoes the broadcast.
    public static func broadcastIndexMap(from source: [Int], to target: [Int]) throws(ShapeError) -> [Int] {
        guard source.count <= target.count else {
            throw ShapeError("shape \(source) has more axes than \(target)")
        }
        let lead = target.count - source.count
        var srcStrides = Array(repeating: 0, count: target.count)
        let s = strides(source)
        for i in 0..<source.count {
            let n = source[i], m = target[lead + i]
            if n == m { srcStrides[lead + i] = s[i] } else if n == 1 { srcStrides[lead + i] = 0 } else {
                throw ShapeError("shape \(source) cannot broadcast to \(target)")
            }
        }
        return stridedIndexMap(shape: target, strides: srcStrides)
    }

    /// Flat source offsets of a strided walk over `shape` (row-major order of `shape`).
    public static func stridedIndexMap(shape: [Int], strides src: [Int]) -> [Int] {
        let n = count(shape)
        var out = [Int](repeating: 0, count: n)
        if n == 0 { return out }
        var idx = Array(repeating: 0, count: shape.count)
        var off = 0
        for k in 0..<n {
            out[k] = off
            var ax = shape.count - 1
            while ax >= 0 {
                idx[ax] += 1
                off += src[ax]
                if idx[ax] < shape[ax] { break }
                off -= src[ax] * shape[ax]
                idx[ax] = 0
                ax -= 1
            }
        }
        return out
    }

    /// Shape after removing `axes` (or keeping them as 1 when `keepDims`).
    public static func reduced(_ shape: [Int], axes: [Int], keepDims: Bool) -> [Int] {
        var out: [Int] = []
        for (i, n) in shape.enumerated() {
            if axes.contains(i) { if keepDims { out.append(1) } } else { out.append(n) }
        }
        return out
    }

    /// Normalises a possibly negative axis against `rank`; nil when out of range.
    public static func axis(_ a: Int, rank: Int) -> Int? {
        let k = a < 0 ? a + rank : a
        return (0..<max(rank, 1)).contains(k) ? k : nil
    }
}

// MARK: - Element-wise arithmetic with NumPy broadcasting (setup and test code; allocates)

public extension Tensor {
    /// `f` applied pairwise after broadcasting both operands to their common shape.
    static func broadcasting(_ a: Tensor, _ b: Tensor, _ f: (Double, Double) -> Double) throws(ShapeError) -> Tensor {
        let shape = try Shape.broadcast(a.shape, b.shape)
        let ia = try Shape.broadcastIndexMap(from: a.shape, to: shape), ib = try Shape.broadcastIndexMap(from: b.shape, to: shape)
        return Tensor(shape: shape, scalars: (0..<ia.count).map { f(a.scalars[ia[$0]], b.scalars[ib[$0]]) })
    }

    /// Broadcasting sum; traps on shapes that do not broadcast (use `broadcasting` to catch that).
    static func + (a: Tensor, b: Tensor) -> Tensor { force { () throws(ShapeError) in try broadcasting(a, b, +) } }
    /// Broadcasting difference.
    static func - (a: Tensor, b: Tensor) -> Tensor { force { () throws(ShapeError) in try broadcasting(a, b, -) } }
    /// Broadcasting product.
    static func * (a: Tensor, b: Tensor) -> Tensor { force { () throws(ShapeError) in try broadcasting(a, b, *) } }
    /// Broadcasting quotient.
    static func / (a: Tensor, b: Tensor) -> Tensor { force { () throws(ShapeError) in try broadcasting(a, b, /) } }

    /// Sum over `axes` (all axes when empty).
    func sum(axes: [Int] = []) -> Tensor {
        let ax = axes.isEmpty ? Array(0..<rank) : axes.compactMap { Shape.axis($0, rank: rank) }
        let kept = Shape.reduced(shape, axes: ax, keepDims: true)
        let map = (try? Shape.broadcastIndexMap(from: kept, to: shape)) ?? []
        var out = [Double](repeating: 0, count: Shape.count(kept))
        for (i, j) in map.enumerated() { out[j] += scalars[i] }
        return Tensor(shape: Shape.reduced(shape, axes: ax, keepDims: false), scalars: out)
    }

    private static func force(_ body: () throws(ShapeError) -> Tensor) -> Tensor {
        do { return try body() } catch { preconditionFailure(error.message) }
    }
}
