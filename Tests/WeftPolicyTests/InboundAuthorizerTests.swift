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
                                     pathMatches: [.prefix("/admin")], authorizations: [Self.meshTLS(["ops.a.serviceaccount.identity.linkerd.cluster.local"], name: "ops")])
        let open = InboundHTTPRoute(metadata: .default("open"), pathMatches: [.exact("/"), .prefix("/public/")], authorizations: [Self.everyone])
        let policy = ServerPolicy(proxyProtocol: .http1, authorizations: [Self.meshTLS(["web.a.serviceaccount.identity.linkerd.cluster.local"], name: "web")],
                                  httpRoutes: [admin, open], labels: [:])
        let authorizer = InboundAuthorizer(policy)
        #expect(authorizer.route(path: "/admin") == 0 && authorizer.route(path: "/admin/x?y=1") == 0)
        #expect(authorizer.route(path: "/adminx") == nil && authorizer.route(path: "/private") == nil)
        #expect(authorizer.route(path: "/?q") == 1 && authorizer.route(path: "/public/a") == 1)
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

    @Test func mappedIPv4IsIPv4() {
        #expect(IPAddress("::ffff:127.0.0.1")?.unmappingIPv4 == IPAddress("127.0.0.1"))
        #expect(IPAddress("::1")?.unmappingIPv4 == IPAddress("::1"))
    }
}
