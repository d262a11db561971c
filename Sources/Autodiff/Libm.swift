#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Scalar libm entry points used by kernels that have no vector form.
@inline(__always) func libmLog(_ x: Double) -> Double { log(x) }
@inline(__always) func libmPow(_ x: Double, _ y: Double) -> Double { pow(x, y) }
