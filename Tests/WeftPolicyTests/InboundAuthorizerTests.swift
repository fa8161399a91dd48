import Testing
import WeftCore
import WeftPolicy

@Suite("Inbound authorizer")
struct InboundAuthorizerTests {
    static let everyone = DefaultInboundPolicy.allUnauthenticated.authorizations[0]

    static func meshTLS(_ identities: [String], suffixes: [[String]] = [], name: String) -> Authorization {
        Authorization(networks: Authorization.Network.everywhere, authentication: .meshTLS(identities: identities, suffixes: suffixes),
                      labels: [:], metadata: .resource(group: "policy.linkerd.io", kind: "AuthorizationPolicy", name: name))
    }

    @Test func routesMatchWholeSegmentsAndRouteAuthorizationsAddToTheServers() throws {
        let admin = InboundHTTPRoute(metadata: .resource(group: "policy.linkerd.io", kind: "HTTPRoute", name: "admin"),
                                     matches: [.init(path: .prefix("/admin"))], authorizations: [Self.meshTLS(["ops.a.serviceaccount.identity.linkerd.cluster.local"], name: "ops")])
        let open = InboundHTTPRoute(metadata: .default("open"), matches: [.init(path: .exact("/")), .init(path: .prefix("/public/"))], authorizations: [Self.everyone])
        let policy = ServerPolicy(proxyProtocol: .http1, authorizations: [Self.meshTLS(["web.a.serviceaccount.identity.linkerd.cluster.local"], name: "web")],
                                  httpRoutes: [admin, open], labels: [:])
        let authorizer = InboundAuthorizer(policy)
        #expect(authorizer.route(FakeRequest("/admin")) == 0 && authorizer.route(FakeRequest("/admin/x?y=1")) == 0)
        #expect(authorizer.route(FakeRequest("/adminx")) == nil && authorizer.route(FakeRequest("/private")) == nil)
        #expect(authorizer.route(FakeRequest("/?q")) == 1 && authorizer.route(FakeRequest("/public/a")) == 1)
        let ops = InboundClient(address: IPAddress("10.0.0.1"), identity: "ops.a.serviceaccount.identity.linkerd.cluster.local")
        let web = InboundClient(address: IPAddress("10.0.0.1"), identity: "web.a.serviceaccount.identity.linkerd.cluster.local")
        let anonymous = InboundClient(address: IPAddress("10.0.0.1"))
        #expect(authorizer.authorizeRequest(route: 0, ops) == .allowed(authorization: 1))
        #expect(authorizer.authorizeRequest(route: 0, web) == .allowed(authorization: 0))
        #expect(authorizer.authorizeRequest(route: 0, anonymous) == .denied)
        #expect(authorizer.authorizeRequest(route: 1, anonymous) == .allowed(authorization: 2))
        // Opaque connections: the server's authorizations only.
        #expect(authorizer.authorizeConnection(ops) == .denied && authorizer.authorizeConnection(web) == .allowed(authorization: 0))
    }

    @Test func suffixesMatchDNSLikeNamesOnlyAndAClientWithoutAddressIsDenied() {
        let any = Self.meshTLS([], suffixes: [["a", "serviceaccount", "identity", "linkerd", "cluster", "local"]], name: "ns-a")
        let authorizer = InboundAuthorizer(ServerPolicy(proxyProtocol: .opaque, authorizations: [any], httpRoutes: [.default], labels: [:]))
        let name = "web.a.serviceaccount.identity.linkerd.cluster.local"
        #expect(authorizer.authorizeConnection(InboundClient(address: IPAddress("::1"), identity: name)) == .allowed(authorization: 0))
        #expect(authorizer.authorizeConnection(InboundClient(address: IPAddress("::1"), identity: name, identityIsDNSLike: false)) == .denied)
        #expect(authorizer.authorizeConnection(InboundClient(address: nil, identity: name)) == .denied)
        let everyone = InboundAuthorizer(DefaultInboundPolicy.allAuthenticated.serverPolicy)
        #expect(everyone.authorizeConnection(InboundClient(address: IPAddress("10.0.0.1"), identity: "spiffe://example.org/x", identityIsDNSLike: false)) == .allowed(authorization: 0))
        #expect(InboundAuthorizer(DefaultInboundPolicy.deny.serverPolicy).authorizeConnection(InboundClient(address: IPAddress("10.0.0.1"), identity: name)) == .denied)
    }

    @Test func theMostSpecificMatchWinsAndEveryPartMustMatch() {
        let everyone = [Self.everyone]
        let api = InboundHTTPRoute(metadata: .default("api"), matches: [.init(path: .prefix("/api"))], authorizations: everyone)
        let write = InboundHTTPRoute(metadata: .default("write"), matches: [
            .init(path: .prefix("/api"), headers: [.init(name: "x-tenant", value: .exact("a"))], method: "POST"),
            .init(path: .exact("/api/v1/items"), queryParams: [.init(name: "debug", value: .exact("1"))]),
        ], authorizations: everyone)
        let vote = InboundHTTPRoute(metadata: .default("vote"), matches: [.init(path: .grpc(service: "ballot.v1.Ballot", method: "Vote"))])
        let ballot = InboundHTTPRoute(metadata: .default("ballot"), matches: [.init(path: .grpc(service: "ballot.v1.Ballot", method: nil))])
        let authorizer = InboundAuthorizer(ServerPolicy(proxyProtocol: .http1, authorizations: [], httpRoutes: [api, write], labels: [:]))
        #expect(authorizer.route(FakeRequest("GET", "/api/x")) == 0)
        #expect(authorizer.route(FakeRequest("POST", "/api/x")) == 0)
        #expect(authorizer.route(FakeRequest("POST", "/api/x", headers: [("X-Tenant", "a")])) == 1)
        #expect(authorizer.route(FakeRequest("GET", "/api/v1/items?debug=1")) == 1)
        #expect(authorizer.route(FakeRequest("GET", "/api/v1/items?debug=2")) == 0)
        // A gRPC port's routes match service and method; its default route every method.
        let grpc = InboundAuthorizer(ServerPolicy(proxyProtocol: .grpc, authorizations: [], httpRoutes: [ballot, vote, .default], labels: [:]))
        #expect(grpc.route(FakeRequest("POST", "/ballot.v1.Ballot/Vote")) == 1)
        #expect(grpc.route(FakeRequest("POST", "/ballot.v1.Ballot/List")) == 0)
        #expect(grpc.route(FakeRequest("POST", "/other.Svc/Vote")) == 2)
        let only = InboundAuthorizer(ServerPolicy(proxyProtocol: .grpc, authorizations: [], httpRoutes: [ballot], labels: [:]))
        #expect(only.route(FakeRequest("POST", "/other.Svc/Vote")) == nil)
        // A regular expression never matches here (a proxy refuses such a policy before).
        let regex = InboundAuthorizer(ServerPolicy(proxyProtocol: .http1, authorizations: [],
                                                   httpRoutes: [.init(metadata: .default("r"), matches: [.init(path: .regex("/.*"))])], labels: [:]))
        #expect(regex.route(FakeRequest("/x")) == nil)
    }

    @Test func mappedIPv4IsIPv4() {
        #expect(IPAddress("::ffff:127.0.0.1")?.unmappingIPv4 == IPAddress("127.0.0.1"))
        #expect(IPAddress("::1")?.unmappingIPv4 == IPAddress("::1"))
    }
}
