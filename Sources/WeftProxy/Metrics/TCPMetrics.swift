/// The `tcp_*` series of one connection's labels, resolved once when the connection opens.
public struct TCPMetrics: Sendable {
    let openTotal: Counter
    let closeTotal: Counter
    let openConnections: Gauge
    /// Bytes read from the peer this series describes.
    public let readBytes: Counter
    /// Bytes written to that peer.
    public let writeBytes: Counter

    /// Linkerd's families: `direction` is `inbound`/`outbound`, `peer` is `src` (the client side)
    /// or `dst` (the side the proxy connects to).
    public init(registry: MetricRegistry, direction: String, peer: String, targetAddress: String, tls: String) {
        let labels = Labels([("direction", direction), ("peer", peer), ("target_addr", targetAddress), ("tls", tls)])
        openTotal = registry.counter("tcp_open_total", help: "Total count of opened connections", labels: labels)
        closeTotal = registry.counter("tcp_close_total", help: "Total count of closed connections", labels: labels)
        openConnections = registry.gauge("tcp_open_connections", help: "Number of currently-open connections", labels: labels)
        readBytes = registry.counter("tcp_read_bytes_total", help: "Total count of bytes read from peers", labels: labels)
        writeBytes = registry.counter("tcp_write_bytes_total", help: "Total count of bytes written to peers", labels: labels)
    }

    public func opened() {
        openTotal.increment()
        openConnections.add(1)
    }

    public func closed() {
        closeTotal.increment()
        openConnections.add(-1)
    }
}
