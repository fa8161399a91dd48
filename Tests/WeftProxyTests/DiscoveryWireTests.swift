import Foundation
import NIOCore
import SwiftProtobuf
import Testing
import WeftAPI
import WeftCore
import WeftPolicy
@testable import WeftController
@testable import WeftProxy

@Suite("Destination wire and balancing")
struct DiscoveryWireTests {
    @Test func decodesWhatTheControllerSends() throws {
        let endpoint = ResolvedEndpoint(address: IPAddress("127.0.0.11")!, port: 8080,
                                        identity: try WorkloadIdentity(parsing: "spiffe://cluster.local/ns/shop/web"),
                                        serverName: "web.shop.cluster.local", opaque: true, proxyInboundPort: 4143,
                                        labels: ["external_workload": "web-1"])
        var update = Io_Linkerd_Proxy_Destination_Update()
        update.add = .with {
            $0.addrs = [DestinationService.weightedAddress(endpoint)]
            $0.metricLabels = ["service": "web", "namespace": "shop"]
        }
        let decoded = try DestinationWire.decodeUpdate(try update.serializedBytes() as [UInt8])
        guard case .add(let endpoints, let labels) = decoded else { Issue.record("not an add: \(decoded)"); return }
        #expect(labels == ["service": "web", "namespace": "shop"])
        #expect(endpoints.count == 1)
        let first = try #require(endpoints.first)
        #expect(first.address == (try SocketAddress(ipAddress: "127.0.0.11", port: 8080)))
        #expect(first.tlsIdentity == "spiffe://cluster.local/ns/shop/web" && first.serverName == "web.shop.cluster.local")
        #expect(first.opaque && first.opaqueTransportPort == 4143 && first.labels == ["external_workload": "web-1"])

        var v6 = Io_Linkerd_Proxy_Destination_Update()
        v6.remove = .with { $0.addrs = [.init(IPAddress("fd00::1")!, port: 443), .init(IPAddress("10.0.0.1")!, port: 80)] }
        #expect(try DestinationWire.decodeUpdate(try v6.serializedBytes() as [UInt8])
                == .remove([try SocketAddress(ipAddress: "fd00::1", port: 443), try SocketAddress(ipAddress: "10.0.0.1", port: 80)]))
        for exists in [true, false] {
            var none = Io_Linkerd_Proxy_Destination_Update()
            none.noEndpoints = .with { $0.exists = exists }
            #expect(try DestinationWire.decodeUpdate(try none.serializedBytes() as [UInt8]) == .noEndpoints(exists: exists))
        }
    }

    @Test func encodesGetAsTheGeneratedTypesDo() throws {
        let bytes = DestinationWire.encodeGet(path: "web.shop.svc.cluster.local:80", contextToken: "{\"ns\":\"shop\"}")
        let decoded = try Io_Linkerd_Proxy_Destination_GetDestination(serializedBytes: bytes)
        #expect(decoded.path == "web.shop.svc.cluster.local:80" && decoded.contextToken == "{\"ns\":\"shop\"}" && decoded.scheme.isEmpty)
        #expect(bytes == (try decoded.serializedBytes() as [UInt8]))
    }

    @Test func refusesMalformedUpdates() {
        let samples: [[UInt8]] = [
            [],                                   // no update at all
            [0x0A, 0x05, 0x0A],                   // add longer than the message
            [0x12, 0x04, 0x0A, 0x02, 0x10, 0x00], // remove with an address without IP and port 0
            [0x0A, 0x02, 0x0A, 0x00],             // add of a WeightedAddr without an address
            [0x08] + [UInt8](repeating: 0xFF, count: 11), // varint too long
            [0x00],                               // field number 0
        ]
        for sample in samples {
            #expect(throws: ProtobufDecodingError.self, "\(sample)") { try DestinationWire.decodeUpdate(sample) }
        }
    }

    static func endpoints(_ count: Int) -> [DiscoveredEndpoint] {
        (1...count).map { DiscoveredEndpoint(address: try! SocketAddress(ipAddress: "127.0.0.\($0)", port: 80)) }
    }

    @Test func powerOfTwoChoicesPrefersTheLessLoadedEndpoint() {
        var random = LoopRandom(seed: 7)
        var balancer = EndpointBalancer()
        let now: UInt64 = 1_000_000_000
        balancer.replace(with: Self.endpoints(2), now: now)
        let slow = balancer.endpoints[0], fast = balancer.endpoints[1]
        slow.started(now: now)
        slow.finished(rttNanoseconds: 500_000_000, now: now, failed: false)
        for _ in 0..<100 { #expect(balancer.pick(now: now, using: &random) === fast) }
        // Outstanding requests count too: enough of them on the fast one tips the choice.
        for _ in 0..<20 { fast.started(now: now) }
        #expect(balancer.pick(now: now, using: &random) === slow)
    }

    @Test func refusedEndpointsAreSetAsideWhileOthersRemain() {
        var random = LoopRandom(seed: 7)
        var balancer = EndpointBalancer()
        let now: UInt64 = 1_000_000_000
        balancer.replace(with: Self.endpoints(3), now: now)
        let dead = balancer.endpoints[0]
        dead.connectFailed(now: now)
        for _ in 0..<200 { #expect(balancer.pick(now: now, using: &random) !== dead) }
        #expect(balancer.pick(now: now + 1_000_000_000, using: &random) != nil)
        // Excluding the only other choices still yields one; all excluded or empty yields none.
        var single = EndpointBalancer()
        single.replace(with: Self.endpoints(1), now: now)
        #expect(single.pick(now: now, excluding: single.endpoints[0], using: &random) == nil)
        #expect(EndpointBalancer().pick(now: now, using: &random) == nil)
    }

    @Test func replacingKeepsTheStateOfEndpointsThatStay() {
        var balancer = EndpointBalancer()
        let now: UInt64 = 1
        balancer.replace(with: Self.endpoints(3), now: now)
        let kept = balancer.endpoints[1]
        kept.started(now: now)
        balancer.replace(with: Array(Self.endpoints(3).dropFirst()), now: now)
        #expect(balancer.endpoints.count == 2 && balancer.endpoints[0] === kept && kept.inFlight == 1)
    }
}
