import NIOCore
import WeftPolicy

/// The route stage's answer for a request, or that it must wait for the service's policy.
enum RouteResolution {
    case decided(RouteOutcome)
    /// Ask again (with `afterWaiting`) when the future completes.
    case wait(EventLoopFuture<Void>)
}

/// What happens to a request to a service: it goes to a backend (counted under the rule that
/// took it, when the service has routes), or the proxy answers it.
enum RouteOutcome {
    case forward(ConcreteTarget, RoutedRequest?)
    case answer(ProxyError)

    /// The rule of `request` under `table` and its backend, drawn from the rule's distribution;
    /// or the proxy's answer: no route (404), the rule's redirect or injected failure, no backend.
    static func choose<Request: RoutableRequest>(_ table: RouteTable, _ request: Request,
                                                 using random: inout LoopRandom) -> Result<(ClientPolicy.Backend, RouteSelection), ProxyError> {
        guard let selection = table.select(request) else {
            let service = table.parent.name.isEmpty ? "the service" : table.parent.name
            return .failure(ProxyError(code: .noRoute, detail: "no route of \(service) matches \(request.method) \(request.path)"))
        }
        for filter in selection.filters {
            switch filter {
            case .redirect(let redirect):
                let location = redirect.location(scheme: "http", host: request.host ?? "", port: request.port, path: request.path,
                                                 query: request.query, matchedPrefix: selection.matchedPrefix)
                return .failure(ProxyError(code: .redirected, detail: "redirected to \(location)", status: redirect.status, location: location))
            case .failure(let injector) where UInt32.random(in: 0..<injector.denominator, using: &random) < injector.numerator:
                return .failure(ProxyError(code: .injectedFailure, detail: injector.message.isEmpty ? "injected failure" : injector.message,
                                           status: injector.status))
            default:
                continue
            }
        }
        guard let backend = selection.backends.choose(using: &random) else {
            return .failure(ProxyError(code: .noEndpoints, detail: "the route \(selection.route) has no backend"))
        }
        return .success((backend, selection))
    }
}

/// A request under a route: an outbound policy's rule (for its filters) and the series it is
/// counted in, or a ServiceProfile's route (for its response classes) and its `route_*` series.
struct RoutedRequest {
    private enum Series {
        case policy(route: RouteSeries, backend: BackendSeries)
        case profile(ProfileRoutes.Route?, ProfileRouteSeries, ProfileBudget)
    }

    /// The policy rule that took the request; nil under a profile.
    let selection: RouteSelection?
    private let series: Series

    init(selection: RouteSelection, route: RouteSeries, backend: BackendSeries) {
        self.selection = selection
        series = .policy(route: route, backend: backend)
    }

    /// Under a profile: its route that matched (nil: none did), its series, and the profile's
    /// retry budget.
    init(profileRoute: ProfileRoutes.Route?, series: ProfileRouteSeries, budget: ProfileBudget) {
        selection = nil
        self.series = .profile(profileRoute, series, budget)
    }

    /// The request's retries: its rule's, or its profile route's (`isRetryable`).
    var retry: RetryPolicy? {
        switch series {
        case .policy: selection?.retry
        case .profile(let route, _, _): route?.retry
        }
    }

    /// The request's timeouts: its rule's, or its profile route's `timeout`.
    var timeouts: ClientPolicy.Timeouts? {
        switch series {
        case .policy: selection?.timeouts
        case .profile(let route, _, _): route?.timeout.map { ClientPolicy.Timeouts(request: $0) }
        }
    }

    /// Whether a retry may go at `now`: under a rule its limit bounds it; under a profile the
    /// budget must allow it too (and then counts it).
    func mayRetry(now: UInt64) -> Bool {
        guard case .profile(_, _, let budget) = series else { return true }
        return budget.budget.withdraw(now: now)
    }

    /// Prepares a request's headers for its backend: the rule's request filters (when it has a
    /// rule) and `l5d-dst-canonical` naming `service`.
    static func prepare<Headers: ModifiableHeaders>(_ headers: inout Headers, routed: RoutedRequest?, service: LogicalTarget) {
        routed?.selection?.modifyRequest(&headers)
        headers.replaceOrAdd(name: CanonicalDestination.header, value: service.path)
    }

    /// Records the finished request: `start` when it arrived, `dispatched` when it went to the
    /// backend (monotonic nanoseconds).
    func finished(status: Int?, grpcStatus: Int?, error: String?, start: UInt64, dispatched: UInt64?, now: UInt64) {
        switch series {
        case .policy(let route, let backend):
            let label = error.map(Self.errorLabel)
            route.finished(status: status, grpcStatus: grpcStatus, error: label, seconds: Double(now &- start) / 1e9)
            if let dispatched {
                backend.finished(status: status, grpcStatus: grpcStatus, error: label, seconds: Double(now &- dispatched) / 1e9)
            }
        case .profile(let route, let series, _):
            let failed = error != nil || (route?.failed(status: status, grpcStatus: grpcStatus)
                ?? ProfileRoutes.Route.defaultFailed(status: status, grpcStatus: grpcStatus))
            series.finished(status: status, grpcStatus: grpcStatus, failed: failed, milliseconds: Double(now &- start) / 1e6)
        }
    }

    /// The route's retry counters (nil under a profile).
    var retryCounters: RetryCounters? {
        if case .policy(let route, _) = series { route.retries } else { nil }
    }

    /// Linkerd's `error` label for the proxy's own failure codes.
    static func errorLabel(_ code: String) -> String {
        switch ProxyError.Code(rawValue: code) {
        case .noEndpoints?, .discoveryUnavailable?, .unknownService?: "FAIL_FAST"
        case .connectFailed?: "REFUSED"
        case .connectTimeout?, .upstreamClosed?: "IO"
        case .requestTimeout?: "REQUEST_TIMEOUT"
        case .attemptTimeout?: "RESPONSE_HEADERS_TIMEOUT"
        default: code == "reset" ? "RESET" : "UNKNOWN"
        }
    }
}

extension RouteSelection {
    /// Applies the rule's request header filters to a request's headers.
    func modifyRequest<Headers: ModifiableHeaders>(_ headers: inout Headers) {
        for case .requestHeaders(let modifier) in filters { modifier.apply(to: &headers) }
    }

    /// Whether the rule modifies response headers.
    var modifiesResponses: Bool {
        filters.contains { if case .responseHeaders = $0 { true } else { false } }
    }

    /// Applies the rule's response header filters to a response's headers.
    func modifyResponse<Headers: ModifiableHeaders>(_ headers: inout Headers) {
        for case .responseHeaders(let modifier) in filters { modifier.apply(to: &headers) }
    }
}

/// Linkerd's header naming the service a request was routed to (`<name>:<port>`), set on
/// requests to services under discovery.
enum CanonicalDestination {
    static let header = "l5d-dst-canonical"
}
