#if canImport(Glibc)
import Glibc
#endif

/// The process's heap allocations so far, as counted by the malloc-counting preload
/// (`tests/integration/alloc/malloc_count.c`, which exports `weft_malloc_count`). Without the
/// preload there is nothing to read, and ``init()`` returns nil.
struct AllocationCounter {
    private typealias Read = @convention(c) () -> UInt
    private let read: Read

    init?() {
        guard let symbol = dlsym(nil, "weft_malloc_count") else { return nil }
        read = unsafeBitCast(symbol, to: Read.self)
    }

    /// Allocations made so far by every thread of the process.
    var count: UInt { read() }
}
