import WeftCore
import WeftPolicy

/// Linkerd 2.16's per-route families for one route of one service (its `parent_*` and `route_*`
/// labels): `outbound_{http,grpc}_route_request_duration_seconds` and `…_request_statuses_total`,
/// and for each backend `…_backend_requests_total`, `…_backend_response_duration_seconds` and
/// `…_backend_response_statuses_total` (`backend_*` labels). Made once per route when a policy
/// comes, on the loop; a request finds its series without building labels.
final class RouteSeries {
    /// Linkerd's route request duration buckets (seconds).
    static let requestBounds: [Double] = [0.05, 0.5, 1, 10]
    /// Linkerd's backend response duration buckets (seconds).
    static let backendBounds: [Double] = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private let registry: MetricRegistry
    private let family: String
    private let labels: [(String, String)]
    private let isGRPC: Bool
    let duration: Histogram
    private let statuses: StatusCounters
    private var backends: [String: BackendSeries] = [:]
    /// `…_retry_*_total`, made when the route first retries (or could have).
    private(set) lazy var retries = RetryCounters(registry: registry, family: family, labels: labels)

    init(registry: MetricRegistry, parent: ResourceReference, route: RouteMetadata, isGRPC: Bool) {
        self.registry = registry
        self.isGRPC = isGRPC
        family = isGRPC ? "outbound_grpc_route" : "outbound_http_route"
        labels = Self.parentLabels(parent) + Self.routeLabels(route, isGRPC: isGRPC)
        duration = registry.histogram("\(family)_request_duration_seconds", help: "The time between request initialization and response completion",
                                      labels: Labels(labels), bounds: Self.requestBounds)
        statuses = StatusCounters(registry: registry, name: "\(family)_request_statuses_total",
                                  help: "Completed route request responses", labels: labels, isGRPC: isGRPC)
    }

    /// The series of `backend` under this route, and whether they were made just now.
    func backend(_ backend: ClientPolicy.Backend) -> (BackendSeries, made: Bool) {
        if let found = backends[backend.discoveryPath] { return (found, false) }
        let made = BackendSeries(registry: registry, family: family, labels: labels + Self.backendLabels(backend.metadata), isGRPC: isGRPC)
        if backends.count < RouteTable.maximumBackends { backends[backend.discoveryPath] = made }
        return (made, true)
    }

    /// `outbound_{http,grpc}_balancer_endpoints` of `backend` under `parent`: (ready, pending).
    static func balancerGauges(registry: MetricRegistry, parent: ResourceReference, backend: ResourceReference, isGRPC: Bool) -> (Gauge, Gauge) {
        let labels = parentLabels(parent) + backendLabels(backend)
        let name = "outbound_\(isGRPC ? "grpc" : "http")_balancer_endpoints"
        let help = "The number of endpoints of a backend's balancer, by state"
        return (registry.gauge(name, help: help, labels: Labels(labels + [("endpoint_state", "ready")])),
                registry.gauge(name, help: help, labels: Labels(labels + [("endpoint_state", "pending")])))
    }

    /// Records a finished request: the route's duration and status.
    func finished(status: Int?, grpcStatus: Int?, error: String?, seconds: Double) {
        duration.observe(seconds)
        statuses.record(status: status, grpcStatus: grpcStatus, error: error)
    }

    static func parentLabels(_ parent: ResourceReference) -> [(String, String)] {
        [("parent_group", parent.group), ("parent_kind", parent.kind), ("parent_name", parent.name), ("parent_namespace", parent.namespace),
         ("parent_port", parent.port.map(String.init) ?? ""), ("parent_section_name", "")]
    }

    static func routeLabels(_ route: RouteMetadata, isGRPC: Bool) -> [(String, String)] {
        switch route {
        case .default(let name):
            [("route_group", ""), ("route_kind", "default"), ("route_name", name.isEmpty ? (isGRPC ? "grpc" : "http") : name), ("route_namespace", "")]
        case .resource(let reference):
            [("route_group", reference.group), ("route_kind", reference.kind), ("route_name", reference.name), ("route_namespace", reference.namespace)]
        }
    }

    static func backendLabels(_ backend: ResourceReference) -> [(String, String)] {
        [("backend_group", backend.group), ("backend_kind", backend.kind), ("backend_name", backend.name), ("backend_namespace", backend.namespace),
         ("backend_port", backend.port.map(String.init) ?? ""), ("backend_section_name", "")]
    }
}

/// A route's retry counters, as Linkerd names them.
final class RetryCounters {
    /// Retries sent.
    let requests: Counter
    /// Requests that were retried and ended with a response the policy does not retry.
    let successes: Counter
    /// Requests whose last attempt failed as the policy retries, with the limit spent.
    let limitExceeded: Counter
    /// Requests that failed as the policy retries but could not be retried: a body too long
    /// to keep, or a response already on its way to the client.
    let overflow: Counter

    init(registry: MetricRegistry, family: String, labels: [(String, String)]) {
        let made = Labels(labels)
        requests = registry.counter("\(family)_retry_requests_total", help: "Retries sent", labels: made)
        successes = registry.counter("\(family)_retry_successes_total", help: "Retried requests that succeeded", labels: made)
        limitExceeded = registry.counter("\(family)_retry_limit_exceeded_total", help: "Requests not retried because the limit was reached",
                                         labels: made)
        overflow = registry.counter("\(family)_retry_overflow_total", help: "Requests not retried because they could not be replayed",
                                    labels: made)
    }
}

/// One route backend's series.
final class BackendSeries {
    let requests: Counter
    let duration: Histogram
    private let statuses: StatusCounters

    init(registry: MetricRegistry, family: String, labels: [(String, String)], isGRPC: Bool) {
        requests = registry.counter("\(family)_backend_requests_total", help: "The total number of requests dispatched to a route backend",
                                    labels: Labels(labels))
        duration = registry.histogram("\(family)_backend_response_duration_seconds",
                                      help: "The time between dispatching a request to a backend and its response completing",
                                      labels: Labels(labels), bounds: RouteSeries.backendBounds)
        statuses = StatusCounters(registry: registry, name: "\(family)_backend_response_statuses_total",
                                  help: "Completed responses of a route backend", labels: labels, isGRPC: isGRPC)
    }

    func finished(status: Int?, grpcStatus: Int?, error: String?, seconds: Double) {
        duration.observe(seconds)
        statuses.record(status: status, grpcStatus: grpcStatus, error: error)
    }
}

/// The status counters of one route or backend: `http_status` (or `grpc_status`, by name, for
/// gRPC routes) and `error`, each combination resolved once.
final class StatusCounters {
    private struct Key: Hashable {
        var status: Int?
        var error: String?
    }

    private let registry: MetricRegistry
    private let name: String
    private let help: String
    private let labels: [(String, String)]
    private let isGRPC: Bool
    private var counters: [Key: Counter] = [:]
    private var last: (key: Key, counter: Counter)?

    init(registry: MetricRegistry, name: String, help: String, labels: [(String, String)], isGRPC: Bool) {
        self.registry = registry
        self.name = name
        self.help = help
        self.labels = labels
        self.isGRPC = isGRPC
    }

    func record(status: Int?, grpcStatus: Int?, error: String?) {
        let key = Key(status: isGRPC ? grpcStatus : status, error: error)
        if let last, last.key == key {
            last.counter.increment()
            return
        }
        let counter: Counter
        if let found = counters[key] {
            counter = found
        } else {
            let statusLabel = isGRPC ? ("grpc_status", key.status.map(Self.grpcName) ?? "")
                                     : ("http_status", key.status.map(String.init) ?? "")
            counter = registry.counter(name, help: help, labels: Labels(labels + [statusLabel, ("error", key.error ?? "")]))
            if counters.count < 64 { counters[key] = counter }
        }
        last = (key, counter)
        counter.increment()
    }

    /// gRPC status names as Linkerd writes them.
    static func grpcName(_ code: Int) -> String {
        let names = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
                     "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
                     "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"]
        return names.indices.contains(code) ? names[code] : String(code)
    }
}
