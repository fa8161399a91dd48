import Foundation
import Testing
import WeftAPI
import WeftCore
@testable import WeftController
import WeftPolicy

/// The controller's inbound authorizations, from Linkerd's YAML to the `ServerPolicy` a proxy
/// enforces, decided with the same ``InboundAuthorizer`` the proxy uses.
@Suite("Inbound authorizations")
struct InboundAuthorizationTests {
    static let spec = Io_Linkerd_Proxy_Inbound_PortSpec.with { $0.workload = "{\"ns\":\"shop\",\"external_workload\":\"web-1\"}"; $0.port = 8080 }
    static let web = "web.shop.serviceaccount.identity.linkerd.cluster.local"
    static let bot = "vote-bot.shop.serviceaccount.identity.linkerd.cluster.local"
    static let stranger = "web.other.serviceaccount.identity.linkerd.cluster.local"

    static let server = DiscoveryTests.workload("web-1", ip: "127.0.0.11", ready: true) + """
        ---
        apiVersion: policy.linkerd.io/v1beta3
        kind: Server
        metadata: {name: web-http, namespace: shop, labels: {tier: front}}
        spec:
          externalWorkloadSelector: {matchLabels: {app: web}}
          port: 8080

        """

    static func policy(_ yaml: String, builder: InboundPolicyBuilder = .init(defaultPolicy: .allUnauthenticated)) throws -> InboundAuthorizer {
        InboundAuthorizer(try builder.policy(for: spec, in: try DiscoveryTests.snapshot(yaml)))
    }

    static func client(_ ip: String, _ identity: String? = nil) -> InboundClient {
        InboundClient(address: IPAddress(ip), identity: identity)
    }

    @Test func aServerWithoutAuthorizationsDeniesEveryone() throws {
        let authorizer = try Self.policy(Self.server)
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", Self.web)) == .denied)
        #expect(authorizer.authorizeConnection(Self.client("127.0.0.1")) == .denied)
    }

    @Test func anAuthorizationPolicyAdmitsOnlyItsIdentitiesFromItsNetworks() throws {
        let yaml = Self.server + """
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: AuthorizationPolicy
            metadata: {name: web-from-bot, namespace: shop}
            spec:
              targetRef: {group: policy.linkerd.io, kind: Server, name: web-http}
              requiredAuthenticationRefs:
              - {group: policy.linkerd.io, kind: MeshTLSAuthentication, name: bot}
              - {group: policy.linkerd.io, kind: NetworkAuthentication, name: local}
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: MeshTLSAuthentication
            metadata: {name: bot, namespace: shop}
            spec:
              identityRefs: [{kind: ServiceAccount, name: vote-bot}]
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: NetworkAuthentication
            metadata: {name: local, namespace: shop}
            spec:
              networks: [{cidr: 127.0.0.0/8, except: [127.0.0.99/32]}, {cidr: "::1/128"}]
            """
        let authorizer = try Self.policy(yaml)
        #expect(authorizer.authorizeConnection(Self.client("127.0.0.1", Self.bot)) == .allowed(authorization: 0))
        #expect(authorizer.authorizeConnection(Self.client("::1", Self.bot)) == .allowed(authorization: 0))
        #expect(authorizer.authorizeConnection(Self.client("127.0.0.99", Self.bot)) == .denied)
        #expect(authorizer.authorizeConnection(Self.client("10.1.1.1", Self.bot)) == .denied)
        #expect(authorizer.authorizeConnection(Self.client("127.0.0.1", Self.web)) == .denied)
        #expect(authorizer.authorizeConnection(Self.client("127.0.0.1")) == .denied)
        // A name that only ends like the allowed one is not it.
        #expect(authorizer.authorizeConnection(Self.client("127.0.0.1", "x" + Self.bot)) == .denied)
        #expect(authorizer.authorizations[0].metadata == .resource(group: "policy.linkerd.io", kind: "AuthorizationPolicy", name: "web-from-bot"))

        // Without the NetworkAuthentication it refers to, the policy grants nothing.
        let missing = yaml.replacingOccurrences(of: "name: local, namespace: shop", with: "name: elsewhere, namespace: shop")
        #expect(try Self.policy(missing).authorizations.isEmpty)
    }

    @Test func wildcardsAreLinkerdsSuffixesOnly() throws {
        let yaml = Self.server + """
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: AuthorizationPolicy
            metadata: {name: shop-clients, namespace: shop}
            spec:
              targetRef: {kind: Namespace, name: shop}
              requiredAuthenticationRefs: [{group: policy.linkerd.io, kind: MeshTLSAuthentication, name: shop}]
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: MeshTLSAuthentication
            metadata: {name: shop, namespace: shop}
            spec:
              identities: ["*.shop.serviceaccount.identity.linkerd.cluster.local"]
            """
        let authorizer = try Self.policy(yaml)
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", Self.web)) == .allowed(authorization: 0))
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", Self.stranger)) == .denied)
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", "shop.serviceaccount.identity.linkerd.cluster.local")) == .denied)
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1")) == .denied)
    }

    @Test func serverAuthorizationsNameOrSelectTheServer() throws {
        let yaml = Self.server + """
            ---
            apiVersion: policy.linkerd.io/v1beta1
            kind: ServerAuthorization
            metadata: {name: front-from-web, namespace: shop}
            spec:
              server: {selector: {matchLabels: {tier: front}}}
              client:
                meshTLS: {serviceAccounts: [{name: web}]}
            ---
            apiVersion: policy.linkerd.io/v1beta1
            kind: ServerAuthorization
            metadata: {name: probes, namespace: shop}
            spec:
              server: {name: web-http}
              client:
                unauthenticated: true
                networks: [{cidr: 192.168.0.0/16, except: [192.168.9.0/24]}]
            """
        let authorizer = try Self.policy(yaml)
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", Self.web)) == .allowed(authorization: 0))
        #expect(authorizer.authorizeConnection(Self.client("192.168.1.1")) == .allowed(authorization: 1))
        #expect(authorizer.authorizeConnection(Self.client("192.168.9.1")) == .denied)
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", Self.bot)) == .denied)
    }

    @Test func auditAdmitsEveryoneAndSaysSo() throws {
        let yaml = Self.server.replacingOccurrences(of: "  port: 8080", with: "  port: 8080\n  accessPolicy: audit") + """
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: AuthorizationPolicy
            metadata: {name: web-from-bot, namespace: shop}
            spec:
              targetRef: {group: policy.linkerd.io, kind: Server, name: web-http}
              requiredAuthenticationRefs: [{kind: ServiceAccount, name: vote-bot}]
            """
        let authorizer = try Self.policy(yaml)
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", Self.bot)) == .allowed(authorization: 0))
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1")) == .audited(authorization: 1))
        #expect(authorizer.authorizeRequest(route: try #require(authorizer.route(Request("GET", "/x"))), Self.client("10.0.0.1")) == .audited(authorization: 1))
    }

    @Test func routesWhoseParentIsTheServerCarryTheirOwnAuthorizations() throws {
        let yaml = Self.server + """
            ---
            apiVersion: policy.linkerd.io/v1beta3
            kind: HTTPRoute
            metadata: {name: admin, namespace: shop}
            spec:
              parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-http}]
              rules:
              - matches: [{path: {type: PathPrefix, value: /admin}, method: POST, headers: [{name: X-Ops, value: "1"}]}]
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: HTTPRoute
            metadata: {name: public, namespace: shop}
            spec:
              parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-http}]
              rules:
              - matches: [{path: {type: Exact, value: /}}, {path: {type: PathPrefix, value: /static}}]
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: AuthorizationPolicy
            metadata: {name: admin-from-bot, namespace: shop}
            spec:
              targetRef: {group: policy.linkerd.io, kind: HTTPRoute, name: admin}
              requiredAuthenticationRefs: [{kind: ServiceAccount, name: vote-bot}]
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: AuthorizationPolicy
            metadata: {name: public-for-all, namespace: shop}
            spec:
              targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: public}
              requiredAuthenticationRefs: []
            """
        let authorizer = try Self.policy(yaml)
        #expect(authorizer.routes.map(\.metadata.labels.name) == ["admin", "public"])
        let admin = try #require(authorizer.route(Request("POST", "/admin/users", headers: [("x-ops", "1")])))
        #expect(authorizer.route(Request("GET", "/admin/users", headers: [("x-ops", "1")])) == nil)
        #expect(authorizer.route(Request("GET", "/private")) == nil)
        let page = try #require(authorizer.route(Request("GET", "/static/a.css")))
        #expect(authorizer.authorizeRequest(route: admin, Self.client("10.0.0.1", Self.bot)) != .denied)
        #expect(authorizer.authorizeRequest(route: admin, Self.client("10.0.0.1", Self.web)) == .denied)
        #expect(authorizer.authorizeRequest(route: page, Self.client("10.0.0.1")) != .denied)
        // The Server itself authorizes no one: opaque use of the port is denied.
        #expect(authorizer.authorizeConnection(Self.client("10.0.0.1", Self.bot)) == .denied)
    }

    @Test func aGRPCServerTakesGRPCRoutesByServiceAndMethod() throws {
        let yaml = Self.server.replacingOccurrences(of: "  port: 8080", with: "  port: 8080\n  proxyProtocol: gRPC") + """
            ---
            apiVersion: gateway.networking.k8s.io/v1
            kind: GRPCRoute
            metadata: {name: vote, namespace: shop}
            spec:
              parentRefs: [{group: policy.linkerd.io, kind: Server, name: web-http}]
              rules:
              - matches: [{method: {service: ballot.v1.Ballot, method: Vote}}]
            ---
            apiVersion: policy.linkerd.io/v1alpha1
            kind: AuthorizationPolicy
            metadata: {name: vote-from-web, namespace: shop}
            spec:
              targetRef: {group: gateway.networking.k8s.io, kind: GRPCRoute, name: vote}
              requiredAuthenticationRefs: [{kind: ServiceAccount, name: web}]
            """
        let authorizer = try Self.policy(yaml)
        let vote = try #require(authorizer.route(Request("POST", "/ballot.v1.Ballot/Vote")))
        #expect(authorizer.route(Request("POST", "/ballot.v1.Ballot/List")) == nil)
        #expect(authorizer.authorizeRequest(route: vote, Self.client("10.0.0.1", Self.web)) != .denied)
        #expect(authorizer.authorizeRequest(route: vote, Self.client("10.0.0.1", Self.bot)) == .denied)
    }

    @Test func theDefaultComesFromTheWorkloadThenTheNamespaceThenTheController() throws {
        let namespace = """
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop, annotations: {config.linkerd.io/default-inbound-policy: all-authenticated}}
            """
        let plain = DiscoveryTests.workload("web-1", ip: "127.0.0.11", ready: true)
        let builder = InboundPolicyBuilder(defaultPolicy: .deny)
        #expect(try Self.policy(plain, builder: builder).authorizeConnection(Self.client("10.0.0.1", Self.web)) == .denied)
        let fromNamespace = try Self.policy(plain + namespace, builder: builder)
        #expect(fromNamespace.authorizeConnection(Self.client("10.0.0.1", Self.web)) == .allowed(authorization: 0))
        #expect(fromNamespace.authorizeConnection(Self.client("10.0.0.1")) == .denied)
        let annotated = plain.replacingOccurrences(of: "namespace: shop,", with: "namespace: shop, annotations: {config.linkerd.io/default-inbound-policy: all-unauthenticated},")
        #expect(annotated != plain)
        #expect(try Self.policy(annotated + namespace, builder: builder).authorizeConnection(Self.client("10.0.0.1")) == .allowed(authorization: 0))
        let requireIdentity = plain.replacingOccurrences(of: "namespace: shop,", with: "namespace: shop, annotations: {config.linkerd.io/proxy-require-identity-inbound-ports: \"8080\"},")
        let required = try Self.policy(requireIdentity)
        #expect(required.authorizeConnection(Self.client("10.0.0.1")) == .denied)
        #expect(required.authorizeConnection(Self.client("10.0.0.1", Self.web)) == .allowed(authorization: 0))
    }

    @Test func cidrsWithHostBitsAreRefused() {
        #expect(throws: IPNetwork.ParseError.self) { try CIDR("1.2.3.4/24") }
        #expect(throws: IPNetwork.ParseError.self) { try CIDR("10.0.0.0/33") }
        #expect(throws: IPNetwork.ParseError.self) { try CIDR("::/129") }
        #expect(throws: IPNetwork.ParseError.self) { try CIDR("fd00::1/8") }
        #expect((try? CIDR("1.2.3.0/24")) != nil && (try? CIDR("1.2.3.4")) != nil && (try? CIDR("fd00::/8")) != nil)
    }
}

/// A request as inbound route matching sees it.
private struct Request: RoutableRequest {
    var method: String
    var path: Substring
    var query: Substring?
    var host: Substring? { nil }
    var port: UInt16? { nil }
    var headers: [(String, String)]

    init(_ method: String, _ target: String, headers: [(String, String)] = []) {
        self.method = method
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts[0]
        query = parts.count > 1 ? parts[1] : nil
        self.headers = headers
    }

    func containsHeader(_ name: String, where predicate: (Substring) -> Bool) -> Bool {
        headers.contains { $0.0.lowercased() == name && predicate($0.1[...]) }
    }
}
