import WeftAPI
import WeftCore
import WeftPolicy
import WeftStore

/// The inbound routes of one `Server`, as Linkerd's policy controller builds them: the
/// HTTPRoutes (`policy.linkerd.io` and Gateway API) whose `parentRefs` name the Server — or, for a
/// `gRPC` Server, its GRPCRoutes — each with the authorizations of the AuthorizationPolicies that
/// target it. Without any, the Server has the default route (every request). Ordered as outbound
/// routes are. Pure.
struct InboundRouteBuilder {
    let snapshot: StoreSnapshot
    let authorizations: InboundAuthorizations

    func routes(for server: Server) -> [InboundHTTPRoute] {
        let namespace = server.metadata.namespace ?? "default"
        let name = server.metadata.name ?? ""
        var routes: [InboundHTTPRoute] = []
        if server.spec.proxyProtocol == .grpc {
            let found = snapshot.list(kind: GRPCRoute.kind, namespace: namespace).compactMap { resource -> (ObjectMeta, String, GRPCRoute)? in
                guard case .grpcRoute(let route) = resource, Self.attaches(route.spec.parentRefs, to: name, in: namespace) else { return nil }
                return (route.metadata, route.apiVersion, route)
            }
            routes = OutboundRouteBuilder.ordered(found).map { meta, apiVersion, route in
                inboundRoute(meta, apiVersion: apiVersion, kind: GRPCRoute.kind, matches: (route.spec.rules ?? []).map { rule in
                    (rule.matches ?? []).map(Self.grpcMatch)
                })
            }
        } else {
            let found = snapshot.list(kind: HTTPRoute.kind, namespace: namespace).compactMap { resource -> (ObjectMeta, String, HTTPRoute)? in
                guard case .httpRoute(let route) = resource, Self.attaches(route.spec.parentRefs, to: name, in: namespace) else { return nil }
                return (route.metadata, route.apiVersion, route)
            }
            routes = OutboundRouteBuilder.ordered(found).map { meta, apiVersion, route in
                inboundRoute(meta, apiVersion: apiVersion, kind: HTTPRoute.kind, matches: (route.spec.rules ?? []).map { rule in
                    (rule.matches ?? []).map(Self.httpMatch)
                })
            }
        }
        return routes.isEmpty ? [.default] : Array(routes.prefix(InboundAuthorizations.limit))
    }

    /// A route from its rules' matches (a rule without matches takes every request).
    private func inboundRoute(_ meta: ObjectMeta, apiVersion: String, kind: String, matches rules: [[InboundRouteMatch]]) -> InboundHTTPRoute {
        let group = apiVersion.split(separator: "/").first.map(String.init) ?? ""
        let name = meta.name ?? ""
        let matches = rules.flatMap { $0.isEmpty ? [InboundRouteMatch(path: kind == GRPCRoute.kind ? .grpc(service: nil, method: nil) : .prefix("/"))] : $0 }
        return InboundHTTPRoute(metadata: .resource(group: group, kind: kind, name: name), matches: matches,
                                authorizations: authorizations.forRoute(group: group, kind: kind, name: name, namespace: meta.namespace ?? "default"))
    }

    /// Whether one of `parents` is the Server named `name` (routes attach within their namespace).
    private static func attaches(_ parents: [GatewayRoute.ParentReference]?, to name: String, in namespace: String) -> Bool {
        (parents ?? []).contains { $0.isServer && $0.name == name && ($0.namespace ?? namespace) == namespace }
    }

    /// An HTTPRoute match as written; regular expressions are sent as they are (a proxy that
    /// does not evaluate them refuses the policy, and denies).
    static func httpMatch(_ match: HTTPRoute.Match) -> InboundRouteMatch {
        var result = InboundRouteMatch()
        if let path = match.path {
            let value = path.value ?? "/"
            switch path.type ?? .pathPrefix {
            case .exact: result.path = .exact(value)
            case .pathPrefix: result.path = .prefix(value)
            case .regularExpression: result.path = .regex(value)
            }
        }
        result.headers = (match.headers ?? []).map { InboundRouteMatch.Field(name: $0.name.lowercased(), value: value($0.type, $0.value)) }
        result.queryParams = (match.queryParams ?? []).map { InboundRouteMatch.Field(name: $0.name, value: value($0.type, $0.value)) }
        result.method = match.method?.rawValue
        return result
    }

    static func grpcMatch(_ match: GRPCRoute.Match) -> InboundRouteMatch {
        var result = InboundRouteMatch(path: .grpc(service: match.method?.service, method: match.method?.method))
        if match.method?.type == .regularExpression {
            result.path = .regex("/\(match.method?.service ?? ".*")/\(match.method?.method ?? ".*")")
        }
        result.headers = (match.headers ?? []).map { InboundRouteMatch.Field(name: $0.name.lowercased(), value: value($0.type, $0.value)) }
        return result
    }

    private static func value(_ type: GatewayRoute.StringMatchType?, _ text: String) -> InboundRouteMatch.Value {
        type == .regularExpression ? .regex(text) : .exact(text)
    }
}
