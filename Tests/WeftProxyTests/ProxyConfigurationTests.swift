import NIOCore
import Testing
@testable import WeftProxy

@Suite("Proxy configuration")
struct ProxyConfigurationTests {
    @Test func defaultsFollowLinkerd() throws {
        let config = try ProxyConfiguration(environment: [:])
        #expect(config.inboundListenAddress == (try SocketAddress(ipAddress: "0.0.0.0", port: 4143)))
        #expect(config.outboundListenAddress == (try SocketAddress(ipAddress: "127.0.0.1", port: 4140)))
        #expect(config.adminListenAddress == (try SocketAddress(ipAddress: "127.0.0.1", port: 4191)))
        #expect(config.inboundDetectTimeout == .seconds(10))
        #expect(config.inboundConnectTimeout == .milliseconds(300))
        #expect(config.outboundConnectTimeout == .seconds(1))
        #expect(config.shutdownGracePeriod == .seconds(120))
        #expect(config.opaquePorts.contains(5432) && config.opaquePorts.contains(11211) && !config.opaquePorts.contains(80))
        #expect(!config.shutdownEndpointEnabled)
        #expect(config.logLevel == .info)
        #expect(config.http1HeaderReadTimeout == .seconds(10))
        #expect(config.listenerRoles.allSatisfy { $0.headerReadTimeout == .seconds(10) })
        #expect(config.listenerRoles.allSatisfy { $0.streamStallTimeout == .seconds(300) })
    }

    @Test func readsEveryVariable() throws {
        let config = try ProxyConfiguration(environment: [
            "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": "[::]:5143",
            "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": "127.0.0.1:5140",
            "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": "127.0.0.1:5191",
            "LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT": "500ms",
            "LINKERD2_PROXY_OUTBOUND_DETECT_TIMEOUT": "365d",
            "LINKERD2_PROXY_OUTBOUND_CONNECT_TIMEOUT": "0",
            "LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION": "22, 3000-3010",
            "LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD": "2m",
            "LINKERD2_PROXY_SHUTDOWN_ENDPOINT_ENABLED": "true",
            "LINKERD2_PROXY_LOG": "warn,linkerd=info,trust_dns=error",
            "LINKERD2_PROXY_LOG_FORMAT": "json",
            "WEFT_PROXY_INBOUND_PORTS": "8080=127.0.0.1:18080, 127.0.0.2:9090=[::1]:19090",
            "WEFT_PROXY_OUTBOUND_PORTS": "15432=db.example:5432",
        ])
        #expect(config.inboundListenAddress == (try SocketAddress(ipAddress: "::", port: 5143)))
        #expect(config.inboundDetectTimeout == .milliseconds(500))
        #expect(config.outboundDetectTimeout == .seconds(365 * 86400))
        #expect(config.outboundConnectTimeout == .zero)
        #expect(config.opaquePorts.contains(22) && config.opaquePorts.contains(3005) && !config.opaquePorts.contains(5432))
        #expect(config.shutdownGracePeriod == .seconds(120))
        #expect(config.shutdownEndpointEnabled)
        #expect(config.logLevel == .warning)
        #expect(config.logFormat == .json)
        #expect(config.inboundPorts == [
            .init(listen: try SocketAddress(ipAddress: "::", port: 8080), target: .address(try SocketAddress(ipAddress: "127.0.0.1", port: 18080))),
            .init(listen: try SocketAddress(ipAddress: "127.0.0.2", port: 9090), target: .address(try SocketAddress(ipAddress: "::1", port: 19090))),
        ])
        #expect(config.outboundPorts == [
            .init(listen: try SocketAddress(ipAddress: "127.0.0.1", port: 15432), target: .name(host: "db.example", port: 5432)),
        ])
        #expect(config.listenerRoles.map(\.name) == ["inbound", "outbound", "inbound [::]:8080", "inbound 127.0.0.2:9090", "outbound 127.0.0.1:15432"])
    }

    @Test func dualStackListenersComeFromTheAddrsLists() throws {
        let config = try ProxyConfiguration(environment: [
            "LINKERD2_PROXY_INBOUND_LISTEN_ADDRS": "0.0.0.0:4143, [::]:4143",
            "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS": "127.0.0.1:4140,[::1]:4140",
        ])
        #expect(config.inboundListenAddress == (try SocketAddress(ipAddress: "0.0.0.0", port: 4143)))
        #expect(config.moreInboundListenAddresses == [try SocketAddress(ipAddress: "::", port: 4143)])
        #expect(config.moreOutboundListenAddresses == [try SocketAddress(ipAddress: "::1", port: 4140)])
        let roles = config.listenerRoles.filter { if case .originalDestination = $0.targeting { true } else { false } }
        #expect(roles.map(\.name) == ["inbound", "outbound", "inbound [::]:4143", "outbound [::1]:4140"])
        #expect(roles.map(\.direction) == [.inbound, .outbound, .inbound, .outbound])
        for bad in ["127.0.0.1:4140,nope", "1.1.1.1:1,1.1.1.1:2,1.1.1.1:3,1.1.1.1:4,1.1.1.1:5"] {
            #expect(throws: ConfigurationError.self, "\(bad)") { try ProxyConfiguration(environment: ["LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS": bad]) }
        }
    }

    @Test func mappingsMayNotTargetTheProxy() throws {
        #expect(throws: ConfigurationError(variable: "WEFT_PROXY_INBOUND_PORTS", value: "127.0.0.1:9000=127.0.0.1:9000",
                                           expected: "targets other than the proxy's own listeners (127.0.0.1:9000 is one)")) {
            try ProxyConfiguration(environment: ["WEFT_PROXY_INBOUND_PORTS": "127.0.0.1:9000=127.0.0.1:9000"])
        }
        #expect(throws: ConfigurationError.self) {
            try ProxyConfiguration(environment: ["WEFT_PROXY_OUTBOUND_PORTS": "15000=127.0.0.1:4140"])
        }
        #expect(throws: ConfigurationError.self) {
            // The inbound listener is 0.0.0.0:4143, so a loopback address on port 4143 is the proxy.
            try ProxyConfiguration(environment: ["WEFT_PROXY_OUTBOUND_PORTS": "15000=127.0.0.5:4143"])
        }
        // Another host's proxy inbound port is a fine target.
        #expect(try ProxyConfiguration(environment: ["WEFT_PROXY_OUTBOUND_PORTS": "15000=192.0.2.7:4143"]).outboundPorts.count == 1)
    }

    @Test(arguments: [
        ("LINKERD2_PROXY_INBOUND_LISTEN_ADDR", "4143", "an IP address and port such as 127.0.0.1:4140 or [::1]:4140"),
        ("LINKERD2_PROXY_INBOUND_LISTEN_ADDR", "localhost:4143", "an IP address and port such as 127.0.0.1:4140 or [::1]:4140"),
        ("LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR", "127.0.0.1:70000", "an IP address and port such as 127.0.0.1:4140 or [::1]:4140"),
        ("LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT", "1.5s", "a whole number with a unit ms, s, m, h or d (e.g. 300ms, 10s, 2m), or 0"),
        ("LINKERD2_PROXY_INBOUND_DETECT_TIMEOUT", "10", "a whole number with a unit ms, s, m, h or d (e.g. 300ms, 10s, 2m), or 0"),
        ("LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD", "-1s", "a whole number with a unit ms, s, m, h or d (e.g. 300ms, 10s, 2m), or 0"),
        ("LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", "25,x", "ports and ranges separated by commas, e.g. 25,587,3306-3310"),
        ("LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", "30-20", "ports and ranges separated by commas, e.g. 25,587,3306-3310"),
        ("LINKERD2_PROXY_INBOUND_PORTS_DISABLE_PROTOCOL_DETECTION", "0", "ports and ranges separated by commas, e.g. 25,587,3306-3310"),
        ("LINKERD2_PROXY_INGRESS_MODE", "yes", "true or false"),
        ("LINKERD2_PROXY_LOG", "verbose", "a level (trace, debug, info, warn, error, off), optionally followed by module=level directives"),
        ("LINKERD2_PROXY_LOG_FORMAT", "xml", "plain or json"),
        ("WEFT_PROXY_INBOUND_PORTS", "8080", "comma-separated [ip:]port=host:port entries, e.g. 8080=127.0.0.1:18080"),
        ("WEFT_PROXY_INBOUND_PORTS", "8080=127.0.0.1", "comma-separated [ip:]port=host:port entries, e.g. 8080=127.0.0.1:18080"),
        ("WEFT_PROXY_OUTBOUND_PORTS", "x=db:5432", "comma-separated [ip:]port=host:port[@identity] entries, e.g. 15432=db.example:5432 or 8080=10.1.2.3:4143@web.shop.serviceaccount.identity.linkerd.cluster.local"),
    ])
    func badValuesNameTheVariable(variable: String, value: String, expected: String) {
        #expect(throws: ConfigurationError(variable: variable, value: value, expected: expected)) {
            try ProxyConfiguration(environment: [variable: value])
        }
        #expect(ConfigurationError(variable: variable, value: value, expected: expected).description
                == "invalid \(variable)=\"\(value)\": expected \(expected)")
    }
}
