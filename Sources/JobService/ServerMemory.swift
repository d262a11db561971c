import CProcess
import Dispatch
import Synchronization

/// The server process's own memory under glibc's allocator (issue 15). Validation may build
/// up to ``ValidationLimits/maxGraphBytes`` of graph and frees it when it answers; glibc would
/// keep much of that: it raises its mmap threshold (up to 32 MiB) each time a mapped block is
/// freed, so later blocks below it come from arenas that hold on to their free pages. The
/// resident set then grows with the history of validations (a job-spec fuzzer's ten minutes
/// took it from 40 MiB idle to a floor of 160–200 MiB), and the next large validation adds
/// its graph on top of that floor. With a fixed threshold and the free pages handed back
/// after validations, the service's memory stays its own plus the graphs in flight.
public enum ServerMemory {
    /// Uptime (ns) of the last release; releases are at most one per ``releaseInterval``.
    private static let lastRelease = Atomic<UInt64>(0)
    /// The least time between two releases: a release walks every arena (a few ms at most).
    static let releaseInterval: UInt64 = 500_000_000

    /// Allocations of `threshold` bytes or more are mappings of their own, returned to the
    /// kernel when freed; the threshold stays where it is set. `sviserve serve` calls this once.
    public static func returnLargeBlocksWhenFreed(threshold: Int = 1 << 20) {
        _ = sviserve_set_mmap_threshold(threshold)
    }

    /// Hands the allocator's free pages back to the kernel, unless that was done within the
    /// last ``releaseInterval`` (validations come by the hundred a second under load).
    static func releaseFreePages() {
        let now = DispatchTime.now().uptimeNanoseconds
        let last = lastRelease.load(ordering: .relaxed)
        guard now &- last >= releaseInterval,
              lastRelease.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged else { return }
        _ = sviserve_release_free_memory()
    }
}
