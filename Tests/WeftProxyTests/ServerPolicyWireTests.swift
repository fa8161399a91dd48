import SwiftProtobuf
import Testing
import WeftAPI
import WeftCore
@testable import WeftController
import WeftPolicy
@testable import WeftProxy

/// Both planes share `ServerPolicy`: what the controller encodes, the proxy's hand decoder reads
/// back as the same value.
@Suite("Inbound policy across the planes")
struct ServerPolicyWireTests {
    static let protocols: [ServerPolicy.ProxyProtocol] = [
        .detect(timeout: .seconds(10)), .detect(timeout: .milliseconds(1_250)), .http1, .http2, .grpc, .opaque, .tls,
    ]

    @Test(arguments: protocols)
    func theProxyReadsTheProtocolTheControllerSends(_ proxyProtocol: ServerPolicy.ProxyProtocol) throws {
        let policy = ServerPolicy(proxyProtocol: proxyProtocol,
                                  authorizations: InboundPolicyBuilder.authorizations(.allAuthenticated),
                                  httpRoutes: [.default], labels: ["kind": "default"])
        let bytes: [UInt8] = try policy.protobuf.serializedBytes()
        #expect(try ServerPolicyWire.proxyProtocol(server: bytes) == proxyProtocol)
    }

    @Test func onlyOpaqueAndTLSPortsSkipDetection() {
        #expect(Self.protocols.filter(\.skipsDetection) == [.opaque, .tls])
    }

    @Test func theDefaultPoliciesAuthorizeAsLinkerdDoes() throws {
        #expect(InboundPolicyBuilder.authorizations(.deny).isEmpty)
        let open = try #require(InboundPolicyBuilder.authorizations(.allUnauthenticated).first)
        #expect(open.authentication == .unauthenticated && open.networks == Authorization.Network.everywhere)
        let authenticated = try #require(InboundPolicyBuilder.authorizations(.clusterAuthenticated).first)
        #expect(authenticated.authentication == .meshTLS(identities: [], suffixes: [[]]))
        // On the wire: meshTLS with one empty suffix (every identity), networks 0.0.0.0/0 and ::/0.
        let wire = authenticated.protobuf
        #expect(wire.authentication.meshTls.identities.suffixes == [.init()])
        #expect(wire.networks.count == 2 && wire.metadata.default == "cluster-authenticated")
    }

    @Test func theProxyReadsAuthorizationsAndRoutesAsSent() throws {
        let bot = Authorization(
            networks: [.init(net: try IPNetwork(parsing: "10.0.0.0/8"), except: [try IPNetwork(parsing: "10.9.0.0/16")]),
                       .init(net: try IPNetwork(parsing: "fd00::/8"))],
            authentication: .meshTLS(identities: ["vote-bot.shop.serviceaccount.identity.linkerd.cluster.local"],
                                     suffixes: [["other", "serviceaccount", "identity", "linkerd", "cluster", "local"]]),
            labels: ["group": "policy.linkerd.io", "kind": "authorizationpolicy", "name": "bot"],
            metadata: .resource(group: "policy.linkerd.io", kind: "AuthorizationPolicy", name: "bot"))
        let route = InboundHTTPRoute(metadata: .resource(group: "policy.linkerd.io", kind: "HTTPRoute", name: "admin"),
                                     matches: [.init(path: .exact("/admin"), headers: [.init(name: "x-ops", value: .exact("1"))], method: "DELETE"),
                                               .init(path: .prefix("/admin/"), queryParams: [.init(name: "q", value: .exact("a b"))], method: "PURGE")],
                                     authorizations: DefaultInboundPolicy.audit.authorizations)
        let policy = ServerPolicy(proxyProtocol: .http1, authorizations: [bot] + DefaultInboundPolicy.allAuthenticated.authorizations,
                                  httpRoutes: [route, .default], labels: ["group": "policy.linkerd.io", "kind": "server", "name": "web"])
        let bytes: [UInt8] = try policy.protobuf.serializedBytes()
        #expect(try ServerPolicyWire.decode(server: bytes) == policy)
        // gRPC routes: by service and method, by service, any.
        let vote = InboundHTTPRoute(metadata: .resource(group: "gateway.networking.k8s.io", kind: "GRPCRoute", name: "vote"),
                                    matches: [.init(path: .grpc(service: "ballot.v1.Ballot", method: "Vote")),
                                              .init(path: .grpc(service: "ballot.v1.Ballot", method: nil), headers: [.init(name: "x-a", value: .exact("b"))]),
                                              .init(path: .grpc(service: nil, method: nil))],
                                    authorizations: [bot])
        let grpc = ServerPolicy(proxyProtocol: .grpc, authorizations: [], httpRoutes: [vote], labels: [:])
        #expect(try ServerPolicyWire.decode(server: try grpc.protobuf.serializedBytes()) == grpc)
    }

    @Test func whatTheProxyCannotEnforceIsRefusedWhole() throws {
        var server = ServerPolicy(proxyProtocol: .http1, authorizations: [], httpRoutes: [.default], labels: [:]).protobuf
        server.protocol.http1.routes[0].rules[0].matches[0].headers = [.with { $0.name = "x"; $0.regex = "a+" }]
        #expect(throws: ProtobufDecodingError.self) { try ServerPolicyWire.decode(server: try server.serializedBytes()) }
        server = ServerPolicy(proxyProtocol: .http1, authorizations: [], httpRoutes: [.default], labels: [:]).protobuf
        server.protocol.http1.routes[0].hosts = [.with { $0.exact = "web" }]
        #expect(throws: ProtobufDecodingError.self) { try ServerPolicyWire.decode(server: try server.serializedBytes()) }
        server = DefaultInboundPolicy.deny.serverPolicy.protobuf
        server.protocol.detect.httpRoutes[0].rules[0].matches[0].path = .with { $0.regex = "/a.*" }
        #expect(throws: ProtobufDecodingError.self) { try ServerPolicyWire.decode(server: try server.serializedBytes()) }
        // An authorization without an authentication, and a /33 network, are refused.
        server = DefaultInboundPolicy.allUnauthenticated.serverPolicy.protobuf
        server.authorizations[0].clearAuthentication()
        #expect(throws: ProtobufDecodingError.self) { try ServerPolicyWire.decode(server: try server.serializedBytes()) }
        server = DefaultInboundPolicy.allUnauthenticated.serverPolicy.protobuf
        server.authorizations[0].networks[0].net.prefixLen = 33
        #expect(throws: ProtobufDecodingError.self) { try ServerPolicyWire.decode(server: try server.serializedBytes()) }
    }

    @Test func aRefusedPolicyDeniesEveryone() {
        let refused = InboundPortPolicy(refused: "a test")
        let client = InboundClient(address: IPAddress("127.0.0.1"), identity: "web.shop.serviceaccount.identity.linkerd.cluster.local")
        #expect(refused.authorizer.authorizeConnection(client) == .denied)
        #expect(refused.authorizer.authorizeRequest(route: 0, client) == .denied)
    }
}
