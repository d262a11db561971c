import Autodiff

/// A conditionally independent dimension (Pyro's `plate`): `size` elements, optionally
/// subsampled to `subsample` per step, in which case log-densities inside it are scaled by
/// size / subsample and data indexed by the plate are gathered with `indices`.
public struct Plate: Hashable, Sendable {
    /// The plate's name (unique in a program).
    public let name: String
    /// Number of elements.
    public let size: Int
    /// Mini-batch size, when subsampled.
    public let subsample: Int?
    /// Position in the program's plate order: sites' plate axes follow this order.
    public let position: Int

    /// Elements present in one step.
    public var batchSize: Int { subsample ?? size }
    /// size / subsample (1 when not subsampled).
    public var scale: Double { Double(size) / Double(batchSize) }
}
