import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Signals a command handles itself (`weft run`, `weft demo`): each stops being fatal and is
/// reported to a handler on a queue instead. Children started by ``SpawnedProcess`` get the
/// default dispositions back.
struct SignalHandlers {
    private let sources: [DispatchSourceSignal]

    init(_ signals: [Int32], queue: DispatchQueue, handler: @escaping @Sendable (Int32) -> Void) {
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { handler(number) }
            source.resume()
            return source
        }
    }

    func cancel() {
        sources.forEach { $0.cancel() }
    }
}
