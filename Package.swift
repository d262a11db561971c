// swift-tools-version:6.1
import PackageDescription

// Vectorised transcendental kernels: clang maps plain loops over exp/log onto glibc's
// libmvec; the AVX2 variants are chosen at run time by a CPU check (see CVecMath).
let vecMathFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-fveclib=libmvec"])]

let package = Package(
    name: "sviserve",
    products: [
        .library(name: "Numerics", targets: ["Numerics"]),
        .library(name: "Autodiff", targets: ["Autodiff"]),
        .library(name: "Distributions", targets: ["Distributions"]),
        .library(name: "Inference", targets: ["Inference"]),
        .library(name: "JSON", targets: ["JSON"]),
        .library(name: "ModelSpec", targets: ["ModelSpec"]),
        .executable(name: "sviserve", targets: ["sviserve"]),
        .executable(name: "sviserve-demo", targets: ["Demo"]),
        .executable(name: "sviserve-bench", targets: ["Bench"]),
    ],
    dependencies: [
        // The command line's argument parsing (subcommands, help, validation).
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // The durable job store: SQLite (WAL, migrations, a reader pool) without hand-written C glue.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // MARK: - System libraries and C kernels
        .systemLibrary(
            name: "CLAPACK",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // libssl: the HTTP server's TLS (see HTTPServer's TLSContext).
        .systemLibrary(
            name: "CSSL",
            pkgConfig: "libssl",
            providers: [.apt(["libssl-dev"])]
        ),
        // libpq: the PostgreSQL job store's client (PostgresJobStore; architecture.md says why not PostgresNIO).
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "CVecMath", cSettings: vecMathFlags, linkerSettings: [.linkedLibrary("mvec"), .linkedLibrary("m")]),
        // Counts heap allocations (interposes malloc): linked only by the benchmark and tests.
        .target(name: "CAllocationCounter"),
        // posix_spawn, prlimit and prctl for the job service's worker processes.
        .target(name: "CProcess"),

        // MARK: - JSON
        // The project's one strict JSON reader, pointers and writer; imports nothing.
        .target(name: "JSON"),

        // MARK: - The engine
        .target(name: "Numerics", dependencies: ["CLAPACK", "CVecMath"]),
        .target(name: "Autodiff", dependencies: ["Numerics", "CVecMath", "CLAPACK"]),
        .target(name: "Distributions", dependencies: ["Numerics", "Autodiff"]),
        .target(name: "Inference", dependencies: ["Numerics", "Autodiff", "Distributions", "CVecMath"]),
        .target(name: "ModelSpec", dependencies: ["JSON", "Numerics", "Autodiff", "Distributions", "Inference"]),
        .target(name: "JobService", dependencies: [
            "JSON", "ModelSpec", "Inference", "Distributions", "Numerics", "HTTPServer", "CCrypto", "CProcess", "CLibPQ",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // Built-in models (demo, benchmark workloads) written with the public builder API.
        .target(name: "Workloads", dependencies: ["Numerics", "Autodiff", "Distributions", "Inference"]),

        // MARK: - HTTP
        // The service's own strict HTTP/1.1 server; knows nothing of SVI.
        .target(name: "HTTPServer", dependencies: ["JSON", "CZlib", "CSSL"]),

        // MARK: - Executables
        .executableTarget(name: "sviserve", dependencies: [
            "JSON", "ModelSpec", "Inference", "Numerics", "Workloads", "JobService", "HTTPServer", "CSSL",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "Demo", dependencies: ["Numerics", "Inference", "Workloads"]),
        // A worker for the tests only: `sviserve worker` plus faults (trap, exhaust memory, hang)
        // injected by job name, so isolation is tested whatever the engine fixes. Never shipped.
        .executableTarget(name: "sviserve-test-worker", dependencies: ["JobService"], path: "Tests/TestWorker"),
        .executableTarget(name: "Bench", dependencies: ["JSON", "Numerics", "Inference", "ModelSpec", "Workloads", "CAllocationCounter"]),

        // MARK: - Tests
        // What several test targets share (a seeded generator); never linked outside the tests.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // Spec mutations and generated specs at the edges, for the job-language and service fuzz tests.
        .target(name: "SpecFuzzing", dependencies: ["JSON", "ModelSpec", "TestSupport"], path: "Tests/SpecFuzzing"),
        .testTarget(name: "JSONTests", dependencies: ["TestSupport", "JSON"]),
        .testTarget(name: "NumericsTests", dependencies: ["TestSupport", "Numerics", "CVecMath"], exclude: ["Reference"]),
        .testTarget(name: "AutodiffTests", dependencies: ["Autodiff", "Numerics", "Distributions", "CAllocationCounter"]),
        .testTarget(name: "InferenceTests", dependencies: ["JSON", "Inference", "Distributions", "Autodiff", "Numerics", "Workloads", "CAllocationCounter"], exclude: ["Reference"]),
        .testTarget(name: "ModelSpecTests", dependencies: ["SpecFuzzing", "TestSupport", "JSON", "ModelSpec", "Inference", "Distributions", "Autodiff", "Numerics", "Workloads"], exclude: ["Conformance/Reference"]),
        .testTarget(name: "JobServiceTests", dependencies: [
            "SpecFuzzing",
            "JobService", "JSON", "ModelSpec", "Inference", "HTTPServer", "Numerics", .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .testTarget(name: "DistributionsTests", dependencies: ["Distributions", "Autodiff", "Numerics"], exclude: ["Reference"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["TestSupport", "JSON", "HTTPServer", "CSSL"]),
    ],
    swiftLanguageModes: [.v6]
)

// The HTTP request parser under libFuzzer, built only when asked (`make fuzz`), so the
// fuzzer's instrumentation never reaches the normal build.
if Context.environment["SVISERVE_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "FuzzRequestParser", dependencies: ["HTTPServer"], path: "Fuzz/FuzzRequestParser"))
}

// Under ThreadSanitizer (`make tsan`), without the malloc-interposing allocation counter and
// the targets that link it: TSan brings its own allocator, and the two cannot share a process.
// ThreadSanitizer maps terabytes of shadow memory, so its workers run without an address-space
// limit (SANITIZED_WORKERS; the other limits stay).
if Context.environment["SVISERVE_TSAN"] != nil {
    let counting: Set<String> = ["CAllocationCounter", "Bench", "AutodiffTests", "InferenceTests"]
    package.targets.removeAll { counting.contains($0.name) }
    package.products.removeAll { $0.name == "sviserve-bench" }
    for target in package.targets where target.name == "JobService" {
        target.swiftSettings = (target.swiftSettings ?? []) + [.define("SANITIZED_WORKERS")]
    }
}
