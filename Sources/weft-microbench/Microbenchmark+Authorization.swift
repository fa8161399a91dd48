import NIOHPACK
import NIOHTTP1
import WeftCore
import WeftPolicy
import WeftProxy

extension Microbenchmark {
    /// An inbound port's policy like bench/run's authorization cell: `authorizations`
    /// server authorizations of which only the last admits the client (every one is tried), and
    /// `routes` routes of which only the last matches (every one is scored).
    static func inboundAuthorizer(routes: Int, authorizations: Int) -> InboundAuthorizer {
        let admitted = (0..<authorizations).map { index in
            Authorization(networks: Authorization.Network.everywhere,
                          authentication: .meshTLS(identities: ["client-\(index == authorizations - 1 ? "bench" : String(index)).bench.serviceaccount.identity.linkerd.cluster.local"],
                                                   suffixes: []),
                          labels: [:], metadata: .resource(group: "policy.linkerd.io", kind: "AuthorizationPolicy", name: "a\(index)"))
        }
        let routeList = (0..<routes).map { index in
            InboundHTTPRoute(metadata: .resource(group: "policy.linkerd.io", kind: "HTTPRoute", name: "r\(index)"),
                             matches: [index == routes - 1 ? InboundRouteMatch()
                                 : InboundRouteMatch(path: .prefix("/r\(index)"), headers: [.init(name: "x-rule", value: .exact("\(index)"))])])
        }
        return InboundAuthorizer(ServerPolicy(proxyProtocol: .http1, authorizations: admitted, httpRoutes: routeList, labels: [:]))
    }

    static let benchClient = InboundClient(address: IPAddress("127.0.0.1"), identity: "client-bench.bench.serviceaccount.identity.linkerd.cluster.local")

    /// One HTTP/1 request's route and authorization on a connection (its client's decisions
    /// made on its first request, as the proxy keeps them).
    static func authorizeHTTP1(routes: Int, authorizations: Int) -> Microbenchmark {
        Microbenchmark(name: "authorize-http1-\(routes)-\(authorizations)") {
            let authorizer = inboundAuthorizer(routes: routes, authorizations: authorizations)
            var decisions = InboundClientDecisions(authorizer, client: benchClient)
            var headers = HTTPHeaders()
            headers.add(name: "host", value: "books.bench.svc.cluster.local:8080")
            headers.add(name: "user-agent", value: "wrk")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/books/1?page=2", headers: headers)
            return {
                guard let route = authorizer.route(HTTP1RoutableRequest(head)), decisions.request(route: route) != .denied else {
                    fatalError("authorize-http1: refused")
                }
            }
        }
    }

    /// One HTTP/2 request's route and authorization on a connection.
    static func authorizeHTTP2(routes: Int, authorizations: Int) -> Microbenchmark {
        Microbenchmark(name: "authorize-http2-\(routes)-\(authorizations)") {
            let authorizer = inboundAuthorizer(routes: routes, authorizations: authorizations)
            var decisions = InboundClientDecisions(authorizer, client: benchClient)
            let headers = HPACKHeaders([(":method", "GET"), (":scheme", "http"), (":authority", "books.bench.svc.cluster.local:8081"),
                                        (":path", "/books/1?page=2"), ("user-agent", "h2load")])
            return {
                guard let route = authorizer.route(HTTP2RoutableRequest(headers)), decisions.request(route: route) != .denied else {
                    fatalError("authorize-http2: refused")
                }
            }
        }
    }

    /// A connection's first request: its route, and its client tried against every authorization.
    static func authorizeFirst(routes: Int, authorizations: Int) -> Microbenchmark {
        Microbenchmark(name: "authorize-first-\(routes)-\(authorizations)") {
            let authorizer = inboundAuthorizer(routes: routes, authorizations: authorizations)
            let headers = HPACKHeaders([(":method", "GET"), (":scheme", "http"), (":authority", "books.bench.svc.cluster.local:8081"),
                                        (":path", "/books/1?page=2"), ("user-agent", "h2load")])
            return {
                guard let route = authorizer.route(HTTP2RoutableRequest(headers)), authorizer.authorizeRequest(route: route, benchClient) != .denied else {
                    fatalError("authorize-first: refused")
                }
            }
        }
    }
}
