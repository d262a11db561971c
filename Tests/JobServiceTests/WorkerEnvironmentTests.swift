import Foundation
import Numerics
import Testing
@testable import JobService

/// The environment a job's worker process starts with: one OpenBLAS thread (the service runs
/// jobs side by side instead), OpenBLAS's allocation-free kernels on AVX-512 CPUs unless the
/// operator chose a kernel family, and none of the server's own settings.
@Suite struct WorkerEnvironmentTests {
    @Test func workersRunOneBLASThreadOnKernelsThatDoNotAllocate() {
        var environment: [String: String] = [:]
        for line in WorkerCommand.current.environment {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        #expect(environment["OPENBLAS_NUM_THREADS"] == "1")
        let operators = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
        #expect(environment["OPENBLAS_CORETYPE"] == operators ?? LinearAlgebra.preferredBLASCore)
        #expect((LinearAlgebra.preferredBLASCore == "Haswell") == Self.cpuHasAVX512, "Haswell's kernels exactly where OpenBLAS would pick SkylakeX's")
        #expect(!environment.keys.contains { $0.hasPrefix("SVISERVE_") })
    }

    /// Whether the CPU has AVX-512 F, DQ and VL, by the kernel's own account (/proc/cpuinfo).
    static var cpuHasAVX512: Bool {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return ["avx2", "fma", "avx512f", "avx512dq", "avx512vl"].allSatisfy(set.contains)
    }
}
