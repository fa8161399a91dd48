import Synchronization
import WeftCore

/// The `tcp_*` series of one connection's labels, resolved once when the connection opens.
public struct TCPMetrics: Sendable {
    let openTotal: Counter
    let closeSuccess: Counter
    let closeFailure: Counter
    let openConnections: Gauge
    /// Bytes read from the peer this series describes.
    public let readBytes: Counter
    /// Bytes written to that peer.
    public let writeBytes: Counter

    /// Linkerd's families: `direction` is `inbound`/`outbound`, `peer` is `src` (the client side)
    /// or `dst` (the side the proxy connects to); `serverID` is the identity a mesh-TLS peer
    /// proved (then `tls` is `true`), `clientID` the identity a mesh-TLS client proved.
    public init(registry: MetricRegistry, direction: Direction, peer: String, targetAddress: String, tls: TLSStatus,
                serverID: String? = nil, clientID: String? = nil) {
        var labels = Labels([("direction", direction.rawValue), ("peer", peer), ("target_addr", targetAddress), ("tls", tls.label)])
        if case .noIdentity(let reason) = tls { labels.pairs.append(("no_tls_reason", reason)) }
        if let serverID { labels.pairs.append(("server_id", serverID)) }
        if let clientID { labels.pairs.append(("client_id", clientID)) }
        openTotal = registry.counter("tcp_open_total", help: "Total count of opened connections", labels: labels)
        var closeLabels = labels
        closeLabels.pairs.append(("classification", "success"))
        closeSuccess = registry.counter("tcp_close_total", help: "Total count of closed connections", labels: closeLabels)
        closeLabels.pairs[closeLabels.pairs.count - 1] = ("classification", "failure")
        closeFailure = registry.counter("tcp_close_total", help: "Total count of closed connections", labels: closeLabels)
        openConnections = registry.gauge("tcp_open_connections", help: "Number of currently-open connections", labels: labels)
        readBytes = registry.counter("tcp_read_bytes_total", help: "Total count of bytes read from peers", labels: labels)
        writeBytes = registry.counter("tcp_write_bytes_total", help: "Total count of bytes written to peers", labels: labels)
    }

    public func opened() {
        openTotal.increment()
        openConnections.add(1)
    }

    /// The connection closed; `failed` when it ended because of an I/O error or an unreachable
    /// target (Linkerd's `classification`).
    public func closed(failed: Bool = false) {
        (failed ? closeFailure : closeSuccess).increment()
        openConnections.add(-1)
    }
}

extension TLSStatus {
    /// The `tls` of a connection to a discovered endpoint (or an address discovery did not know):
    /// `true` over mesh TLS; else `no_identity` when this proxy has one to offer (the endpoint has
    /// none), `disabled` when it has none itself.
    static func toEndpoint(_ peer: MeshPeer?, proxyHasIdentity: Bool) -> TLSStatus {
        if peer != nil { return .established }
        return proxyHasIdentity ? .noIdentity(reason: "not_provided_by_service_discovery") : .disabled
    }
}

/// Whether a proxied connection ended badly, recorded by whichever handler sees the failure and
/// read when the connection's close is counted.
public final class ConnectionOutcome: Sendable {
    private let failure = Atomic<Bool>(false)

    public init() {}

    public func markFailed() {
        failure.store(true, ordering: .relaxed)
    }

    public var failed: Bool { failure.load(ordering: .relaxed) }
}

/// The `src` series of one accepted connection, opened once its labels are known: at once for
/// plain connections, after the handshake for terminated mesh TLS (then with `tls="true"` and
/// the client's `client_id`). A connection that closes before that counts on the plain series.
final class SourceConnection {
    private let plain: TCPMetrics
    private(set) var opened: TCPMetrics?

    init(plain: TCPMetrics) {
        self.plain = plain
    }

    /// Opens `metrics` as this connection's series, unless one is open already.
    func open(_ metrics: TCPMetrics) {
        guard opened == nil else { return }
        opened = metrics
        metrics.opened()
    }

    func closed(failed: Bool) {
        open(plain)
        opened?.closed(failed: failed)
    }
}
