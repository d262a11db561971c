#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A value behind a pthread mutex, for state several queues share. It does what
/// `Synchronization.Mutex` does, but ThreadSanitizer sees it: on Linux that type waits on a
/// futex TSan cannot see, so every access it guards is reported as a race, which would hide
/// real ones (`make tsan`).
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is read and written only while `mutex` is held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        self.value = value
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value while holding the lock; what `body` throws, this throws.
    public func withLock<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
