import Logging
import WeftAPI
import WeftCore
import WeftPolicy
import WeftStore

/// The routes of one Service port, from the HTTPRoutes (`policy.linkerd.io` and Gateway API) and
/// GRPCRoutes whose `parentRefs` name it (with no port, or this port), as Linkerd's policy
/// controller builds them: GRPCRoutes, when there are any, make the port a gRPC port; else the
/// HTTPRoutes are its HTTP routes; with neither, one default route sends every request to the
/// Service. Routes are ordered Linkerd's way: `policy.linkerd.io` before Gateway API, then the
/// oldest `creationTimestamp`, then the name. Pure.
struct OutboundRouteBuilder {
    let clusterDomain: String
    /// The Service and port the routes are for.
    let parent: ResourceReference
    let port: UInt16

    /// What the port's routes are.
    enum Routes: Equatable {
        case http([ClientPolicy.HTTPRoute])
        case grpc([ClientPolicy.GRPCRoute])
    }

    /// The Service's own backend, which a rule without `backendRefs` uses.
    var parentBackend: ClientPolicy.Backend {
        backend(name: parent.name, namespace: parent.namespace, port: port)
    }

    func routes(in snapshot: StoreSnapshot) -> Routes {
        let defaults = serviceTraffic(in: snapshot)
        let grpc = snapshot.list(kind: GRPCRoute.kind).compactMap { resource -> (ObjectMeta, String, GRPCRoute)? in
            guard case .grpcRoute(let route) = resource, attaches(route.spec.parentRefs, route.metadata) else { return nil }
            return (route.metadata, route.apiVersion, route)
        }
        if !grpc.isEmpty {
            return .grpc(Self.ordered(grpc).map { grpcRoute($0.2, defaults: defaults) })
        }
        let http = snapshot.list(kind: HTTPRoute.kind).compactMap { resource -> (ObjectMeta, String, HTTPRoute)? in
            guard case .httpRoute(let route) = resource, attaches(route.spec.parentRefs, route.metadata) else { return nil }
            return (route.metadata, route.apiVersion, route)
        }
        if http.isEmpty {
            let traffic = Self.traffic(route: TrafficAnnotations(), timeouts: nil, defaults: defaults, isGRPC: false)
            return .http([ClientPolicy.HTTPRoute(metadata: .default("http"),
                                                 rules: [.init(matches: [HTTPRouteMatch(path: .prefix("/"))], backends: .firstAvailable([parentBackend]),
                                                               retry: traffic.retry, timeouts: traffic.timeouts)])])
        }
        return .http(Self.ordered(http).map { httpRoute($0.2, defaults: defaults) })
    }

    /// Whether one of `parents` is this Service (in the route's namespace unless it names
    /// another) with no port or this port.
    private func attaches(_ parents: [GatewayRoute.ParentReference]?, _ metadata: ObjectMeta) -> Bool {
        (parents ?? []).contains { parent in
            parent.isService && parent.name == self.parent.name
                && (parent.namespace ?? metadata.namespace ?? "default") == self.parent.namespace
                && (parent.port.map { $0.value == port } ?? true)
        }
    }

    /// Linkerd's order: `policy.linkerd.io` first, then the oldest, then by name.
    static func ordered<Route>(_ routes: [(ObjectMeta, String, Route)]) -> [(ObjectMeta, String, Route)] {
        routes.sorted { a, b in
            let groupA = a.1.hasPrefix("policy.linkerd.io/") ? 0 : 1
            let groupB = b.1.hasPrefix("policy.linkerd.io/") ? 0 : 1
            if groupA != groupB { return groupA < groupB }
            let timeA = a.0.creationTimestamp ?? "~"
            let timeB = b.0.creationTimestamp ?? "~"
            if timeA != timeB { return timeA < timeB }
            return (a.0.name ?? "") < (b.0.name ?? "")
        }
    }

    private func metadata(_ meta: ObjectMeta, apiVersion: String, kind: String) -> RouteMetadata {
        let group = apiVersion.split(separator: "/").first.map(String.init) ?? ""
        return .resource(ResourceReference(group: group, kind: kind, name: meta.name ?? "", namespace: meta.namespace ?? parent.namespace))
    }

    private func httpRoute(_ route: HTTPRoute, defaults: TrafficAnnotations) -> ClientPolicy.HTTPRoute {
        let annotations = TrafficAnnotations.read(route.metadata.annotations).0
        let rules = (route.spec.rules ?? []).compactMap { rule -> ClientPolicy.HTTPRule? in
            let matches = (rule.matches ?? []).compactMap(httpMatch)
            // A rule whose every match was dropped must not turn into one that takes everything.
            if matches.isEmpty, !(rule.matches ?? []).isEmpty { return nil }
            let filters = (rule.filters ?? []).compactMap(filter)
            let traffic = Self.traffic(route: annotations, timeouts: rule.timeouts, defaults: defaults, isGRPC: false)
            return ClientPolicy.HTTPRule(matches: matches, filters: filters,
                                         backends: backends(rule.backendRefs, namespace: route.metadata.namespace),
                                         retry: traffic.retry, timeouts: traffic.timeouts)
        }
        return ClientPolicy.HTTPRoute(metadata: metadata(route.metadata, apiVersion: route.apiVersion, kind: HTTPRoute.kind),
                                      hosts: hosts(route.spec.hostnames), rules: rules)
    }

    private func grpcRoute(_ route: GRPCRoute, defaults: TrafficAnnotations) -> ClientPolicy.GRPCRoute {
        let traffic = Self.traffic(route: TrafficAnnotations.read(route.metadata.annotations).0, timeouts: nil, defaults: defaults, isGRPC: true)
        let rules = (route.spec.rules ?? []).compactMap { rule -> ClientPolicy.Rule<GRPCRouteMatch>? in
            let matches = (rule.matches ?? []).compactMap { match -> GRPCRouteMatch? in
                // The proxy API carries exact service and method names only.
                if match.method?.type == .regularExpression { return nil }
                return GRPCRouteMatch(service: match.method?.service, method: match.method?.method,
                                      headers: (match.headers ?? []).compactMap(headerMatch))
            }
            if matches.isEmpty, !(rule.matches ?? []).isEmpty { return nil }
            let filters = (rule.filters ?? []).compactMap { filter -> RouteFilter? in
                if let modifier = filter.requestHeaderModifier { return headerModifier(modifier).map(RouteFilter.requestHeaders) }
                if let modifier = filter.responseHeaderModifier { return headerModifier(modifier).map(RouteFilter.responseHeaders) }
                return nil
            }
            return ClientPolicy.Rule(matches: matches, filters: filters, backends: backends(rule.backendRefs, namespace: route.metadata.namespace),
                                     retry: traffic.retry, timeouts: traffic.timeouts)
        }
        return ClientPolicy.GRPCRoute(metadata: metadata(route.metadata, apiVersion: route.apiVersion, kind: GRPCRoute.kind),
                                      hosts: hosts(route.spec.hostnames), rules: rules)
    }

    private func hosts(_ names: [String]?) -> [HostMatch] {
        (names ?? []).map { name in
            let lower = name.lowercased()
            return lower.hasPrefix("*.") ? .suffix(String(lower.dropFirst(2))) : .exact(lower)
        }
    }

    private func httpMatch(_ match: HTTPRoute.Match) -> HTTPRouteMatch? {
        var path: HTTPRouteMatch.Path?
        if let pathMatch = match.path {
            let value = pathMatch.value ?? "/"
            switch pathMatch.type ?? .pathPrefix {
            case .exact: path = .exact(value)
            case .pathPrefix: path = .prefix(value)
            case .regularExpression:
                guard let pattern = try? RoutePattern(value) else { return nil }
                path = .regex(pattern)
            }
        }
        return HTTPRouteMatch(path: path, headers: (match.headers ?? []).compactMap(headerMatch),
                              queryParams: (match.queryParams ?? []).compactMap { param in
                                  stringMatch(param.type, param.value).map { QueryParamMatch(name: param.name, value: $0) }
                              },
                              method: match.method?.rawValue)
    }

    private func headerMatch(_ match: GatewayRoute.HeaderMatch) -> HeaderMatch? {
        stringMatch(match.type, match.value).map { HeaderMatch(name: match.name, value: $0) }
    }

    private func stringMatch(_ type: GatewayRoute.StringMatchType?, _ value: String) -> StringMatch? {
        switch type ?? .exact {
        case .exact: .exact(value)
        case .regularExpression: (try? RoutePattern(value)).map(StringMatch.regex)
        }
    }

    private func filter(_ filter: HTTPRoute.Filter) -> RouteFilter? {
        if let modifier = filter.requestHeaderModifier { return headerModifier(modifier).map(RouteFilter.requestHeaders) }
        if let modifier = filter.responseHeaderModifier { return headerModifier(modifier).map(RouteFilter.responseHeaders) }
        if let redirect = filter.requestRedirect {
            let path: RequestRedirect.PathRewrite? = redirect.path.flatMap { modifier in
                switch modifier.type {
                case .replaceFullPath: modifier.replaceFullPath.map(RequestRedirect.PathRewrite.full)
                case .replacePrefixMatch: modifier.replacePrefixMatch.map(RequestRedirect.PathRewrite.prefix)
                }
            }
            // The Gateway API's default status is 302.
            return (try? RequestRedirect(scheme: redirect.scheme, host: redirect.hostname, path: path, port: redirect.port?.value,
                                         status: redirect.statusCode ?? 302)).map(RouteFilter.redirect)
        }
        return nil
    }

    private func headerModifier(_ modifier: GatewayRoute.HeaderModifier) -> HeaderModifier? {
        try? HeaderModifier(add: (modifier.add ?? []).map { Header(name: $0.name, value: $0.value) },
                            set: (modifier.set ?? []).map { Header(name: $0.name, value: $0.value) },
                            remove: modifier.remove ?? [])
    }

    /// Weighted `backendRefs` (weight 1 by default), each a Service balanced on its own
    /// endpoints; none at all means the parent Service.
    private func backends<Filter>(_ refs: [GatewayRoute.BackendRef<Filter>]?, namespace: String?) -> ClientPolicy.Distribution {
        let services = (refs ?? []).filter { ($0.kind ?? "Service") == "Service" && (($0.group ?? "").isEmpty || $0.group == "core") }
        guard !services.isEmpty else { return .firstAvailable([parentBackend]) }
        return .randomAvailable(services.map { ref in
            let backend = backend(name: ref.name, namespace: ref.namespace ?? namespace ?? parent.namespace, port: ref.port?.value ?? port)
            return ClientPolicy.WeightedBackend(backend: backend, weight: UInt32(max(0, ref.weight ?? 1)))
        })
    }

    private func backend(name: String, namespace: String, port: UInt16) -> ClientPolicy.Backend {
        let authority = ServiceAuthority(service: name, namespace: namespace, port: port)
        return ClientPolicy.Backend(metadata: ResourceReference(group: "core", kind: "Service", name: name, namespace: namespace, port: port),
                                    discoveryPath: "\(authority.fullyQualifiedName(clusterDomain: clusterDomain)):\(port)")
    }
}
