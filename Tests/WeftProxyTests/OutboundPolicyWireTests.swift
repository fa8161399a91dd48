import Foundation
import SwiftProtobuf
import Testing
import WeftAPI
import WeftCore
@testable import WeftController
import WeftPolicy
@testable import WeftProxy

/// Both planes share `ClientPolicy`: the routes the controller encodes, the proxy's hand decoder
/// reads back as the same values; what it cannot use it refuses whole, and it never traps.
@Suite("Outbound policy across the planes")
struct OutboundPolicyWireTests {
    static let parent = ResourceReference(group: "core", kind: "Service", name: "web", namespace: "shop", port: 80)

    static func backend(_ name: String) -> ClientPolicy.Backend {
        ClientPolicy.Backend(metadata: ResourceReference(group: "core", kind: "Service", name: name, namespace: "shop", port: 80),
                             discoveryPath: "\(name).shop.svc.cluster.local:80")
    }

    static func httpPolicy() throws -> ClientPolicy {
        let routes = [ClientPolicy.HTTPRoute(
            metadata: .resource(ResourceReference(group: "policy.linkerd.io", kind: "HTTPRoute", name: "r", namespace: "shop")),
            hosts: [.exact("web.example.com"), .suffix("example.com")],
            rules: [
                .init(matches: [HTTPRouteMatch(path: .exact("/a"), headers: [HeaderMatch(name: "x-a", value: .regex(try RoutePattern("[0-9]+")))],
                                               queryParams: [QueryParamMatch(name: "q", value: .exact("1"))], method: "PATCH"),
                                HTTPRouteMatch(path: .regex(try RoutePattern("/b/.*")), method: "PURGE")],
                      filters: [.requestHeaders(try HeaderModifier(add: [Header(name: "x-add", value: "1")], set: [Header(name: "x-set", value: "2")],
                                                                   remove: ["x-drop"])),
                                .responseHeaders(try HeaderModifier(add: [Header(name: "x-resp", value: "3")])),
                                .failure(try FailureInjector(status: 503, message: "chaos", numerator: 1, denominator: 4))],
                      backends: .randomAvailable([.init(backend: backend("web"), weight: 90), .init(backend: backend("web-v2"), weight: 10)])),
                .init(matches: [HTTPRouteMatch(path: .prefix("/old"))],
                      filters: [.redirect(try RequestRedirect(scheme: "https", host: "new.example.com", path: .prefix("/new"), port: 8443, status: 302))],
                      backends: .firstAvailable([backend("web")])),
            ])]
        return ClientPolicy(parent: parent, proxyProtocol: .detect(timeout: .seconds(10), httpRoutes: routes, opaqueRoutes: []))
    }

    @Test func httpRoutesCrossIntact() throws {
        let policy = try Self.httpPolicy()
        let decoded = try OutboundPolicyWire.decode(try policy.protobuf.serializedBytes())
        #expect(decoded == policy)
    }

    @Test func grpcRoutesCrossIntact() throws {
        let routes = [ClientPolicy.GRPCRoute(metadata: .default("grpc"), rules: [
            .init(matches: [GRPCRouteMatch(service: "pkg.Svc", method: "Vote", headers: [HeaderMatch(name: "x-b", value: .exact("1"))])],
                  filters: [.requestHeaders(try HeaderModifier(remove: ["x-c"]))],
                  backends: .firstAvailable([Self.backend("voting")])),
        ])]
        let policy = ClientPolicy(parent: Self.parent, proxyProtocol: .grpc(routes: routes))
        let decoded = try OutboundPolicyWire.decode(try policy.protobuf.serializedBytes())
        #expect(decoded == policy)
    }

    @Test func unusableRoutesAreRefusedWhole() throws {
        func encoded(_ edit: (inout Io_Linkerd_Proxy_Outbound_OutboundPolicy) -> Void) throws -> [UInt8] {
            let policy = try Self.httpPolicy()
            var message = policy.protobuf
            edit(&message)
            return try message.serializedBytes()
        }
        let nested = try encoded { $0.protocol.detect.http1.routes[0].rules[0].matches[0].path.regex = "(a+)+$" }
        #expect(throws: RoutePolicyError.self) { try OutboundPolicyWire.decode(nested) }
        let crlf = try encoded {
            $0.protocol.detect.http1.routes[0].rules[0].filters[0].requestHeaderModifier.set.headers[0].value = Data("a\r\nx-evil: 1".utf8)
        }
        #expect(throws: RoutePolicyError.self) { try OutboundPolicyWire.decode(crlf) }
        let forward = try encoded {
            $0.protocol.detect.http1.routes[0].rules[1].backends.firstAvailable.backends[0].backend.forward = .init()
        }
        #expect(throws: RoutePolicyError.self) { try OutboundPolicyWire.decode(forward) }
    }

    @Test func truncatedOrMistypedBytesAreRefusedNeverTrapped() throws {
        let bytes: [UInt8] = try Self.httpPolicy().protobuf.serializedBytes()
        for length in 0..<bytes.count {
            _ = try? OutboundPolicyWire.decode(Array(bytes[..<length]))
        }
        // Field 1 (the protocol, a message) sent as a varint.
        #expect(throws: RoutePolicyError.self) { try OutboundPolicyWire.decode([0x08, 0x01]) }
        #expect(throws: RoutePolicyError.self) { try OutboundPolicyWire.decode([]) }
    }
}
