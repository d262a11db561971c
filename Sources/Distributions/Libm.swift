#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Natural logarithm from libm (setup-time code, not the hot path).
@inline(__always) func logarithm(_ x: Double) -> Double { log(x) }
