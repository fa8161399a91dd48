import Synchronization

/// Whether the proxy is ready to serve: every listener bound — which, with identity, happens only
/// after the first certificate.
public final class ProxyReadiness: Sendable {
    private let ready = Atomic<Bool>(false)

    init() {}

    func markReady() {
        ready.store(true, ordering: .relaxed)
    }

    public var isReady: Bool { ready.load(ordering: .relaxed) }
}
