/// The request-body bytes the whole server may hold at once, shared by every connection.
///
/// Threat: each connection's body is buffered whole before its handler runs, so many
/// connections sending large bodies together (80 × 63 MB) would exhaust memory although each
/// keeps to ``HTTPLimits/maxBodyLength``. A body's declared `Content-Length` is reserved as
/// soon as its head is read — before any body byte — and a chunked body's bytes as they
/// arrive; a request that does not fit is answered `503` with `Retry-After` and its connection
/// closed. The reservation is returned once the request's handler has answered.
final class BodyBudget: Sendable {
    /// The most bytes held at once.
    let capacity: Int
    private let used = Locked(0)

    init(capacity: Int) { self.capacity = capacity }

    /// Takes `bytes` from the budget if they fit; returns whether they were taken.
    func reserve(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        return used.withLock { used in
            guard bytes <= capacity - used else { return false }
            used += bytes
            return true
        }
    }

    /// Takes `bytes` even past the capacity: for bytes already received, which refusing would
    /// not give back.
    func force(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.withLock { $0 += bytes }
    }

    /// Gives back `bytes` taken earlier.
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.withLock { $0 = max(0, $0 - bytes) }
    }

    /// Bytes held now.
    var inUse: Int { used.withLock { $0 } }
}
