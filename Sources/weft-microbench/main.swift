// Allocations per operation of the proxy's per-connection and per-request decisions, counted by
// the malloc-counting preload; tests/integration/test_allocations.py runs it and compares the
// counts with alloc/baseline.json. Prints one line per case: `<name> <allocations per run>`.
// Cases named on the command line run alone.
#if canImport(Glibc)
import Glibc
#endif

// `--time`: nanoseconds per run of each case instead (on this machine, now: for looking at, not
// for checking).
if CommandLine.arguments.dropFirst().first == "--time" {
    for benchmark in Microbenchmark.all {
        print("\(benchmark.name) \(benchmark.nanosecondsPerRun()) ns")
    }
    exit(0)
}
guard let counter = AllocationCounter() else {
    let message = "weft-microbench: no allocation counter; run it with LD_PRELOAD=<malloc_count.so> (see tests/integration/alloc)\n"
    _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    exit(2)
}
let selected = Set(CommandLine.arguments.dropFirst())
for benchmark in Microbenchmark.all where selected.isEmpty || selected.contains(benchmark.name) {
    let perRun = benchmark.allocationsPerRun(counter: counter)
    print("\(benchmark.name) \((perRun * 100).rounded() / 100)")
}
