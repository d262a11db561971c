/// Writes a NetCDF classic (CDF-1) file: named dimensions, global text attributes and
/// double-precision variables, big-endian, no record dimension. xarray opens it (SciPy's
/// netcdf reader or netCDF4), and ArviZ takes each such file as one group of draws
/// (docs/outputs.md). Format: the NetCDF Classic Format Specification (header, then each
/// variable's values at the offset the header records, every part padded to 4 bytes).
public struct NetCDF3Writer {
    /// A variable: its dimensions (by index into `dimensions`) and `Shape.count` values.
    public struct Variable {
        public let name: String
        public let dimensions: [Int]
        public let values: [Double]
        public init(name: String, dimensions: [Int], values: [Double]) {
            self.name = name; self.dimensions = dimensions; self.values = values
        }
    }

    public private(set) var dimensions: [(name: String, length: Int)] = []
    public private(set) var attributes: [(name: String, text: String)] = []
    public private(set) var variables: [Variable] = []

    /// Largest file this writer produces: CDF-1 offsets are 32-bit.
    public static let maxBytes = Int(Int32.max)

    public init() {}

    /// Adds a dimension (or returns the index of one with the same name and length).
    public mutating func dimension(_ name: String, _ length: Int) -> Int {
        if let i = dimensions.firstIndex(where: { $0.name == name && $0.length == length }) { return i }
        dimensions.append((name, length))
        return dimensions.count - 1
    }

    public mutating func attribute(_ name: String, _ text: String) { attributes.append((name, text)) }

    /// Adds a variable; its values must fill its dimensions.
    public mutating func variable(_ name: String, dimensions dims: [Int], values: [Double]) {
        precondition(values.count == dims.reduce(1) { $0 * dimensions[$1].length }, "variable \(name): values do not fill its dimensions")
        variables.append(Variable(name: name, dimensions: dims, values: values))
    }

    /// The file's bytes, or nil when it would exceed `maxBytes`.
    public func bytes() -> [UInt8]? {
        var header: [UInt8] = Array("CDF".utf8) + [1]
        func int(_ x: Int, _ out: inout [UInt8]) {
            let v = UInt32(truncatingIfNeeded: x)
            out += [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
        }
        func pad(_ out: inout [UInt8]) { while out.count % 4 != 0 { out.append(0) } }
        func name(_ s: String, _ out: inout [UInt8]) {
            let b = Array(s.utf8)
            int(b.count, &out); out += b; pad(&out)
        }
        int(0, &header) // numrecs: no record dimension
        if dimensions.isEmpty { int(0, &header); int(0, &header) } else {
            int(10, &header); int(dimensions.count, &header)
            for d in dimensions { name(d.name, &header); int(d.length, &header) }
        }
        if attributes.isEmpty { int(0, &header); int(0, &header) } else {
            int(12, &header); int(attributes.count, &header)
            for a in attributes {
                name(a.name, &header)
                int(2, &header) // NC_CHAR
                let b = Array(a.text.utf8)
                int(b.count, &header); header += b; pad(&header)
            }
        }
        // Each variable's entry ends with its 4-byte begin offset, known once the header's size is.
        var sizes: [Int] = []
        var entries: [[UInt8]] = []
        for v in variables {
            var e: [UInt8] = []
            name(v.name, &e)
            int(v.dimensions.count, &e)
            for d in v.dimensions { int(d, &e) }
            int(0, &e); int(0, &e) // no variable attributes
            int(6, &e) // NC_DOUBLE
            let size = 8 * v.values.count
            sizes.append(size)
            int(size, &e)
            entries.append(e)
        }
        var headerSize = header.count + (variables.isEmpty ? 8 : 8)
        headerSize += entries.reduce(0) { $0 + $1.count + 4 }
        let total = sizes.reduce(headerSize, +)
        guard total <= Self.maxBytes else { return nil }
        if variables.isEmpty { int(0, &header); int(0, &header) } else {
            int(11, &header); int(variables.count, &header)
            var offset = headerSize
            for (e, size) in zip(entries, sizes) {
                header += e
                int(offset, &header)
                offset += size
            }
        }
        var out = header
        out.reserveCapacity(total)
        for v in variables {
            for x in v.values {
                let bits = x.bitPattern
                for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((bits >> UInt64(shift)) & 0xff)) }
            }
        }
        return out
    }
}
