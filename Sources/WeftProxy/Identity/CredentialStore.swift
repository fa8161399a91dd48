import Synchronization
import WeftIdentity

/// The proxy's current certificate and key, replaced on each renewal. TLS handshakes read the
/// current value (so rotation is hitless: open connections keep theirs).
public final class CredentialStore: Sendable {
    private let credentials = Mutex<WorkloadCredentials?>(nil)

    public init() {}

    public var current: WorkloadCredentials? { credentials.withLock { $0 } }

    /// The current credentials if they have not expired: after expiry the proxy fails closed
    /// (no mesh TLS either way) rather than present an expired certificate.
    public var valid: WorkloadCredentials? {
        guard let current, current.expiry.timeIntervalSince1970 > WallClock.secondsSinceEpoch() else { return nil }
        return current
    }

    func install(_ new: WorkloadCredentials) {
        credentials.withLock { $0 = new }
    }

    /// Returns once credentials exist (checking every 50 ms), or throws when cancelled.
    func waitForFirst() async throws {
        while current == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
