import WeftAPI
import WeftPolicy
import WeftStore

/// Retries and timeouts of the routes, from Linkerd's annotations: a route's own retry
/// annotations replace all of its Service's, and likewise its timeout annotations; an HTTPRoute's
/// `timeouts` (Gateway API) come before both.
extension OutboundRouteBuilder {
    /// The Service's annotations, the defaults of its routes (invalid values, which `weft apply`
    /// refuses, are left out).
    func serviceTraffic(in snapshot: StoreSnapshot) -> TrafficAnnotations {
        guard case .service(let service)? = snapshot[Service.kind, parent.namespace, parent.name] else { return TrafficAnnotations() }
        return TrafficAnnotations.read(service.metadata.annotations).0
    }

    /// A rule's retry policy and timeouts.
    /// - Parameter timeouts: the HTTPRoute rule's `timeouts`: `request` bounds the whole
    ///   exchange, `backendRequest` each attempt (the whole exchange when nothing is retried).
    static func traffic(route: TrafficAnnotations, timeouts: HTTPRoute.Timeouts?, defaults: TrafficAnnotations,
                        isGRPC: Bool) -> (retry: RetryPolicy?, timeouts: ClientPolicy.Timeouts?) {
        let retryAnnotations = route.retry ?? defaults.retry
        let timeoutSource = route.hasTimeouts ? route : defaults
        var retry = retryAnnotations.map { annotations in
            RetryPolicy(limit: annotations.limit,
                        conditions: isGRPC ? .grpc(codes: RetryPolicy.grpcCodes(annotations.grpcCodes)) : .http(annotations.httpStatuses),
                        perAttemptTimeout: annotations.timeout?.duration)
        }
        var result = ClientPolicy.Timeouts(request: timeoutSource.requestTimeout?.duration, response: timeoutSource.responseTimeout?.duration,
                                           idle: timeoutSource.idleTimeout?.duration)
        if let request = timeouts?.request, request.nanoseconds > 0 { result.request = request.duration }
        if let backend = timeouts?.backendRequest, backend.nanoseconds > 0 {
            if retry != nil, retry?.perAttemptTimeout == nil {
                retry?.perAttemptTimeout = backend.duration
            } else if retry == nil {
                result.request = min(result.request ?? backend.duration, backend.duration)
            }
        }
        let none = result.request == nil && result.response == nil && result.idle == nil
        return (retry, none ? nil : result)
    }
}

extension TrafficAnnotations {
    var hasTimeouts: Bool { requestTimeout != nil || responseTimeout != nil || idleTimeout != nil }
}
