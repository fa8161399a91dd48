import Testing
import WeftCore
import WeftPolicy
@testable import WeftProxy

@Suite("Discovery and policy configuration")
struct ControlPlaneConfigurationTests {
    @Test func offWithoutTheirAddresses() throws {
        let config = try ProxyConfiguration(environment: [:])
        #expect(config.discovery == nil && config.inboundPolicy == nil)
    }

    @Test func discoveryReadsLinkerdsVariables() throws {
        let discovery = try #require(try ProxyConfiguration(environment: [
            "LINKERD2_PROXY_DESTINATION_SVC_ADDR": "linkerd-dst-headless.linkerd.svc.cluster.local:8086",
            "LINKERD2_PROXY_DESTINATION_CONTEXT": "{\"ns\":\"shop\", \"nodeName\":\"n1\"}\n",
            "LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES": "svc.cluster.local.,svc.other.",
            "LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT": "10s",
        ]).discovery)
        #expect(discovery.host == "linkerd-dst-headless.linkerd.svc.cluster.local" && discovery.port == 8086)
        #expect(discovery.contextToken == "{\"ns\":\"shop\", \"nodeName\":\"n1\"}\n")
        #expect(discovery.suffixes == ["svc.cluster.local", "svc.other"] && discovery.idleTimeout == .seconds(10))
        #expect(discovery.failFastTimeout == .seconds(3) && discovery.backoffMinimum == .milliseconds(100) && discovery.backoffMaximum == .seconds(2))
        #expect(discovery.handles(host: "web.shop.svc.cluster.local") && discovery.handles(host: "Web.Shop.SVC.cluster.local."))
        #expect(discovery.handles(host: "web.shop.svc.other") && !discovery.handles(host: "example.com"))
        #expect(!discovery.handles(host: "evilsvc.cluster.local"))
        #expect(DiscoveryConfiguration.path(host: "Web.Shop.svc.cluster.local.", port: 80) == "web.shop.svc.cluster.local:80")
        let everything = try #require(try ProxyConfiguration(environment: [
            "LINKERD2_PROXY_DESTINATION_SVC_ADDR": "127.0.0.1:8086", "LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES": ".",
        ]).discovery)
        #expect(everything.handles(host: "example.com"))
    }

    @Test func controlPlaneNamesAskForMutualTLSAndNeedTheProxysIdentity() throws {
        let named: [String: String] = [
            "LINKERD2_PROXY_DESTINATION_SVC_ADDR": "10.0.0.1:8086",
            "LINKERD2_PROXY_DESTINATION_SVC_NAME": "linkerd-destination.linkerd.serviceaccount.identity.linkerd.cluster.local",
        ]
        // Without an identity of its own the proxy has no certificate to present.
        #expect(throws: ConfigurationError.self) { try ProxyConfiguration(environment: named) }
        let plain = try #require(try ProxyConfiguration(environment: ["LINKERD2_PROXY_DESTINATION_SVC_ADDR": "10.0.0.1:8086"]).discovery)
        #expect(plain.serverName == nil)
    }

    @Test func addressPathsAreAddressesAndNamesAreNot() {
        #expect(LoopDiscovery.address("10.0.0.2:8080")?.port == 8080)
        #expect(LoopDiscovery.address("[fd00::2]:8080")?.protocol == .inet6)
        #expect(LoopDiscovery.address("web.shop.svc.cluster.local:8080") == nil)
        #expect(LoopDiscovery.address("10.0.0.2") == nil)
        #expect(ConnectionTarget.address(LoopDiscovery.address("[fd00::2]:80")!).description == "[fd00::2]:80")
    }

    @Test func policyNeedsAWorkloadAndWatchesTheBoundPorts() throws {
        #expect(throws: ConfigurationError.self) {
            try ProxyConfiguration(environment: ["LINKERD2_PROXY_POLICY_SVC_ADDR": "127.0.0.1:8090"])
        }
        let policy = try #require(try ProxyConfiguration(environment: [
            "LINKERD2_PROXY_POLICY_SVC_ADDR": "127.0.0.1:8090",
            "LINKERD2_PROXY_POLICY_WORKLOAD": "{\"ns\":\"shop\",\"external_workload\":\"web-1\"}",
            "LINKERD2_PROXY_INBOUND_PORTS": "8080,9000-9002",
            "WEFT_PROXY_INBOUND_PORTS": "127.0.0.2:7000=127.0.0.1:17000,8080=127.0.0.1:18080",
        ]).inboundPolicy)
        #expect(policy.ports == [8080, 9000, 9001, 9002, 7000] && policy.workload.contains("web-1"))
    }

    @Test(arguments: [
        ("LINKERD2_PROXY_DESTINATION_SVC_ADDR", "no-port"),
        ("LINKERD2_PROXY_CONTROL_EXP_BACKOFF_MIN", "0"),
        ("LINKERD2_PROXY_OUTBOUND_DISCOVERY_IDLE_TIMEOUT", "5 seconds"),
    ])
    func badValuesNameTheirVariable(variable: String, value: String) {
        var environment = ["LINKERD2_PROXY_DESTINATION_SVC_ADDR": "127.0.0.1:8086"]
        environment[variable] = value
        do {
            _ = try ProxyConfiguration(environment: environment)
            Issue.record("accepted \(variable)=\(value)")
        } catch {
            #expect(error.variable == variable)
        }
    }

    @Test func inboundPolicyDecodesTheProtocolArm() throws {
        // Server { ProxyProtocol protocol = 1 { Opaque opaque = 2 {} }; labels... }
        #expect(try ServerPolicyWire.proxyProtocol(server: [0x0A, 0x02, 0x12, 0x00]) == .opaque)
        // A Detect whose field 1 is not a Duration message: the default timeout.
        #expect(try ServerPolicyWire.proxyProtocol(server: [0x0A, 0x04, 0x0A, 0x02, 0x08, 0x0A]) == .detect(timeout: .seconds(10)))
        // Detect { timeout: Duration { seconds: 3, nanos: 500_000_000 } }.
        #expect(try ServerPolicyWire.proxyProtocol(server: [0x0A, 0x0C, 0x0A, 0x0A, 0x0A, 0x08, 0x08, 0x03, 0x10, 0x80, 0xCA, 0xB5, 0xEE, 0x01])
                == .detect(timeout: .milliseconds(3_500)))
        #expect(throws: (any Error).self) { try ServerPolicyWire.proxyProtocol(server: [0x22, 0x00]) }
        #expect(InboundPolicies.portSpec(workload: "w", port: 8080) == [0x0A, 0x01, 0x77, 0x10, 0x90, 0x3F])
    }

    /// `Server { protocol { detect { timeout: Duration { seconds: <varint bytes> } } } }`.
    static func detectServer(seconds: [UInt8]) -> [UInt8] {
        let duration: [UInt8] = [0x08] + seconds
        let detect: [UInt8] = [0x0A, UInt8(duration.count)] + duration
        let proxyProtocol: [UInt8] = [0x0A, UInt8(detect.count)] + detect
        return [0x0A, UInt8(proxyProtocol.count)] + proxyProtocol
    }

    @Test func hostileInboundPoliciesAreRefusedWithTheirCause() throws {
        // Two days (172,800 s) and -1 s (ten-byte varint): outside 0…1 day.
        #expect(throws: ProtobufDecodingError.self) { try ServerPolicyWire.proxyProtocol(server: Self.detectServer(seconds: [0x80, 0xC6, 0x0A])) }
        #expect(throws: ProtobufDecodingError.self) {
            try ServerPolicyWire.proxyProtocol(server: Self.detectServer(seconds: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
        }
        // One day is still taken.
        #expect(try ServerPolicyWire.proxyProtocol(server: Self.detectServer(seconds: [0x80, 0xA3, 0x05])) == .detect(timeout: .seconds(86_400)))
        // Truncated: a length past the end, at each level.
        for bytes: [UInt8] in [[0x0A, 0x05, 0x0A], [0x0A, 0x02, 0x0A, 0x09], [0x0A, 0x04, 0x0A, 0x02, 0x0A, 0x07]] {
            #expect(throws: ProtobufDecodingError.self, "\(bytes)") { try ServerPolicyWire.proxyProtocol(server: bytes) }
        }
    }
}
