import Synchronization

/// Whether the proxy is ready to serve: every listener bound — which, with identity, happens only
/// after the first certificate — and, with identity, a certificate that has not expired.
public final class ProxyReadiness: Sendable {
    private let ready = Atomic<Bool>(false)
    private let credentials: CredentialStore?

    init(credentials: CredentialStore? = nil) {
        self.credentials = credentials
    }

    func markReady() {
        ready.store(true, ordering: .relaxed)
    }

    public var isReady: Bool {
        guard ready.load(ordering: .relaxed) else { return false }
        return credentials.map { $0.valid != nil } ?? true
    }
}
