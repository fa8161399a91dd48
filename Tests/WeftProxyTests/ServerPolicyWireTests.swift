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
                                  authorizations: InboundPolicyBuilder(defaultPolicy: .allAuthenticated).authorizations(.allAuthenticated),
                                  httpRoutes: [.default], labels: ["kind": "default"])
        let bytes: [UInt8] = try policy.protobuf.serializedBytes()
        #expect(try ServerPolicyWire.proxyProtocol(server: bytes) == proxyProtocol)
    }

    @Test func onlyOpaqueAndTLSPortsSkipDetection() {
        #expect(Self.protocols.filter(\.skipsDetection) == [.opaque, .tls])
    }

    @Test func theDefaultPoliciesAuthorizeAsLinkerdDoes() throws {
        let builder = InboundPolicyBuilder(defaultPolicy: .deny)
        #expect(builder.authorizations(.deny).isEmpty)
        let open = try #require(builder.authorizations(.allUnauthenticated).first)
        #expect(open.authentication == .unauthenticated && open.networks == Authorization.Network.everywhere)
        let authenticated = try #require(builder.authorizations(.clusterAuthenticated).first)
        #expect(authenticated.authentication == .meshTLS(identities: [], suffixes: [[]]))
        // On the wire: meshTLS with one empty suffix (every identity), networks 0.0.0.0/0 and ::/0.
        let wire = authenticated.protobuf
        #expect(wire.authentication.meshTls.identities.suffixes == [.init()])
        #expect(wire.networks.count == 2 && wire.metadata.default == "cluster-authenticated")
    }
}
