import Synchronization

/// Whether the proxy is ready to serve: every listener bound — which, with identity, happens only
/// after the first certificate — with identity, a certificate that has not expired, and with a
/// policy service, a policy for every configured inbound port (until then those ports refuse
/// every client).
public final class ProxyReadiness: Sendable {
    private let ready = Atomic<Bool>(false)
    private let credentials: CredentialStore?
    /// Configured inbound ports whose policy has not arrived yet.
    private let policyPending = Mutex<Set<UInt16>>([])

    init(credentials: CredentialStore? = nil) {
        self.credentials = credentials
    }

    func markReady() {
        ready.store(true, ordering: .relaxed)
    }

    func awaitPolicies(_ ports: [UInt16]) {
        policyPending.withLock { $0.formUnion(ports) }
    }

    func receivedPolicy(_ port: UInt16) {
        _ = policyPending.withLock { $0.remove(port) }
    }

    public var isReady: Bool { notReadyReason == nil }

    /// Why the proxy is not ready, for `/ready`; nil when it is.
    public var notReadyReason: String? {
        guard ready.load(ordering: .relaxed) else { return "listeners not bound yet" }
        if let credentials, credentials.valid == nil { return "no valid certificate" }
        let pending = policyPending.withLock { $0.sorted() }
        if !pending.isEmpty {
            return "no inbound policy yet for port\(pending.count == 1 ? "" : "s") \(pending.map(String.init).joined(separator: ", ")): they refuse every client"
        }
        return nil
    }
}
