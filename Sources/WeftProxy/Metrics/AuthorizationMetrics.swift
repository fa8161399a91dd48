import WeftPolicy

/// Linkerd's inbound policy series: `inbound_http_authz_allow_total`, `…_deny_total`,
/// `inbound_http_route_not_found_total`, `inbound_tcp_authz_allow_total`, `…_deny_total`, with
/// `target_addr`, `srv_*`, `route_*`, `authz_*`, `tls` and `client_id` labels.
struct AuthorizationMetrics: Sendable {
    let registry: MetricRegistry
    /// `target_addr`: the connection's target (`ip:port`).
    let targetAddress: String

    func httpAllowed(server: (group: String, kind: String, name: String), route: PolicyMetadata,
                     authorization: PolicyMetadata, client: InboundClient) -> Counter {
        var labels = base(server)
        append(&labels, "route", route.labels)
        append(&labels, "authz", authorization.labels)
        appendClient(&labels, client)
        return registry.counter("inbound_http_authz_allow_total", help: "The total number of inbound HTTP requests that were authorized",
                                labels: labels)
    }

    func httpDenied(server: (group: String, kind: String, name: String), route: PolicyMetadata, client: InboundClient) -> Counter {
        var labels = base(server)
        append(&labels, "route", route.labels)
        appendClient(&labels, client)
        return registry.counter("inbound_http_authz_deny_total", help: "The total number of inbound HTTP requests that could not be processed due to a proxy error",
                                labels: labels)
    }

    func routeNotFound(server: (group: String, kind: String, name: String)) -> Counter {
        registry.counter("inbound_http_route_not_found_total", help: "The total number of inbound HTTP requests that could not be associated with a route",
                         labels: base(server))
    }

    func tcpAllowed(server: (group: String, kind: String, name: String), authorization: PolicyMetadata,
                    client: InboundClient) -> Counter {
        var labels = base(server)
        append(&labels, "authz", authorization.labels)
        appendClient(&labels, client)
        return registry.counter("inbound_tcp_authz_allow_total", help: "The total number of inbound TCP connections that were authorized",
                                labels: labels)
    }

    func tcpDenied(server: (group: String, kind: String, name: String), client: InboundClient) -> Counter {
        var labels = base(server)
        appendClient(&labels, client)
        return registry.counter("inbound_tcp_authz_deny_total", help: "The total number of inbound TCP connections that were denied",
                                labels: labels)
    }

    private func base(_ server: (group: String, kind: String, name: String)) -> Labels {
        var labels = Labels([("target_addr", targetAddress)])
        append(&labels, "srv", server)
        return labels
    }

    private func append(_ labels: inout Labels, _ prefix: String, _ value: (group: String, kind: String, name: String)) {
        labels.pairs.append(("\(prefix)_group", value.group))
        labels.pairs.append(("\(prefix)_kind", value.kind))
        labels.pairs.append(("\(prefix)_name", value.name))
    }

    private func appendClient(_ labels: inout Labels, _ client: InboundClient) {
        if let identity = client.identity {
            labels.pairs.append(("tls", "true"))
            labels.pairs.append(("client_id", identity))
        } else {
            labels.pairs.append(("tls", "disabled"))
        }
    }
}
