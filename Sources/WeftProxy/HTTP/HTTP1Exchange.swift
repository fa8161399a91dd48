/// What the HTTP/1 forwarder knows of the exchange in flight: a value, updated as request and
/// response parts pass.
struct HTTP1Exchange {
    /// When the request head arrived (monotonic nanoseconds).
    let start: UInt64
    let series: HTTPMetrics.Series
    let isGRPC: Bool
    /// The client's request allows its connection to stay open.
    let keepAlive: Bool
    var status: Int?
    var grpcStatus: Int?
    var responseStarted = false
    var requestEnded = false
    /// The request asked to switch protocols (`Connection: upgrade`, e.g. WebSocket); if the
    /// target agrees (101), both connections carry raw bytes from then on.
    var upgradeRequested = false
    /// The target answered 101: at the end of that response HTTP leaves both pipelines.
    var switching = false
    /// The target's response allows its connection to be reused.
    var upstreamKeepAlive = true
}

/// Where the HTTP/1 forwarder's upstream is.
enum HTTP1UpstreamState {
    /// No exchange in flight has an upstream yet.
    case none
    /// Being chosen or connected; request parts are held meanwhile.
    case connecting
    /// Carrying the exchange.
    case ready(HTTP1Connection)

    var connection: HTTP1Connection? {
        if case .ready(let connection) = self { connection } else { nil }
    }
}
