import Foundation
import JobService

// `sviserve worker` with faults injected into jobs by name, for the isolation tests:
//   fault-trap-N      traps (a failed precondition, SIGILL/SIGTRAP) before step N
//   fault-allocate-N  before step N, allocates and touches memory until the limit stops it
//   fault-hang-N      before step N, sleeps forever, ignoring cancel and suspend
//   fault-exit-N      exits with status 3 before step N
//   fault-kill-N      sends itself SIGKILL before step N
// Any other job runs as it would in the service's own worker.
let faults = WorkerFaults { name, step in
    let parts = name.split(separator: "-")
    guard parts.count == 3, parts[0] == "fault", let at = Int(parts[2]), step == at else { return }
    switch parts[1] {
    case "trap":
        preconditionFailure("injected trap at step \(step)")
    case "allocate":
        var blocks: [UnsafeMutableRawPointer] = []
        while true {
            let block = UnsafeMutableRawPointer.allocate(byteCount: 64 << 20, alignment: 64)
            block.initializeMemory(as: UInt8.self, repeating: 1, count: 64 << 20)
            blocks.append(block)
        }
    case "hang":
        while true { sleep(3600) }
    case "exit":
        exit(3)
    case "kill":
        kill(getpid(), SIGKILL)
    default:
        return
    }
}
exit(JobWorker.main(faults: faults))
