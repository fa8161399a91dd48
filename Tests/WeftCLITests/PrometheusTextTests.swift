import Foundation
import Testing
@testable import WeftCLI

@Suite("Prometheus text reader (proxies' /metrics)")
struct PrometheusTextTests {
    @Test func readsSamplesLabelsAndSpecialValues() throws {
        let text = """
            # HELP request_total Total count of HTTP requests
            # TYPE request_total counter
            request_total{direction="inbound",target_addr="127.0.0.1:80",tls="true"} 42
            response_latency_ms_bucket{direction="inbound",le="+Inf"} 7
            process_start_time_seconds 1700000000
            weird{path="a\\"b\\\\c\\nd"} NaN
            gauge{a="1"} -Inf 1700000000000
            """
        let samples = try PrometheusText.parse(text)
        #expect(samples.count == 5)
        #expect(samples[0] == MetricSample(name: "request_total", labels: ["direction": "inbound", "target_addr": "127.0.0.1:80", "tls": "true"], value: 42))
        #expect(samples[1].labels["le"] == "+Inf" && samples[1].value == 7)
        #expect(samples[2].labels.isEmpty && samples[2].value == 1_700_000_000)
        #expect(samples[3].labels["path"] == "a\"b\\c\nd" && samples[3].value.isNaN)
        #expect(samples[4].value == -.infinity)  // the timestamp is ignored
    }

    @Test(arguments: [
        "name{a=\"1\" 2",           // label set not closed
        "name{a=\"unterminated} 1", // quote not closed
        "name{a=1} 1",              // value not quoted
        "name{=\"x\"} 1",           // no label name
        "name",                     // no value
        "name abc",                 // not a number
        "{a=\"1\"} 1",              // no name
    ])
    func refusesMalformedLinesWithTheirNumber(line: String) {
        #expect(throws: PrometheusText.ParseError.self) { try PrometheusText.parse("ok 1\n" + line) }
        do {
            _ = try PrometheusText.parse("ok 1\n" + line)
        } catch {
            #expect("\(error)".hasPrefix("line 2 is not a sample"))
        }
    }

    @Test func boundsTheNumberOfSamples() {
        let text = String(repeating: "x 1\n", count: PrometheusText.maximumSamples + 1)
        #expect(throws: PrometheusText.ParseError.self) { try PrometheusText.parse(text) }
    }
}

@Suite("Golden metrics between two readings")
struct TrafficStatsTests {
    static let workload = MeshWorkload(namespace: "shop", name: "web-1", labels: ["app": "web"], ip: "127.64.0.1", identity: "web.shop",
                                       ports: [8080], adminPort: 4191, ready: true, readyReason: "ProxyReady")

    static func scrape(_ text: String, at seconds: TimeInterval) throws -> ProxyScrape {
        ProxyScrape(workload: workload, time: Date(timeIntervalSince1970: seconds), samples: try PrometheusText.parse(text), failure: nil)
    }

    @Test func countsResponsesAndInterpolatesQuantilesAsHistogramQuantile() throws {
        let before = try Self.scrape("""
            response_total{direction="inbound",tls="true",client_id="a",classification="success"} 100
            response_total{direction="inbound",tls="true",client_id="a",classification="failure"} 10
            response_latency_ms_bucket{direction="inbound",le="1"} 0
            response_latency_ms_bucket{direction="inbound",le="5"} 0
            response_latency_ms_bucket{direction="inbound",le="10"} 0
            response_latency_ms_bucket{direction="inbound",le="+Inf"} 0
            response_total{direction="outbound",classification="success"} 999
            """, at: 0)
        let after = try Self.scrape("""
            response_total{direction="inbound",tls="true",client_id="a",classification="success"} 127
            response_total{direction="inbound",tls="true",client_id="a",classification="failure"} 13
            response_total{direction="inbound",tls="disabled",classification="success"} 10
            response_latency_ms_bucket{direction="inbound",le="1"} 10
            response_latency_ms_bucket{direction="inbound",le="5"} 20
            response_latency_ms_bucket{direction="inbound",le="10"} 30
            response_latency_ms_bucket{direction="inbound",le="+Inf"} 30
            tcp_open_connections{direction="inbound",peer="src",client_id="a"} 2
            tcp_open_connections{direction="inbound",peer="dst"} 5
            response_total{direction="outbound",classification="success"} 5000
            """, at: 10)
        let stats = TrafficStats.inbound(before: before, after: after, clients: nil)
        #expect(stats.successes == 37 && stats.failures == 3)  // a new series counts from zero
        #expect(stats.requestsPerSecond == 4)
        #expect(stats.successRate == 37.0 / 40)
        #expect(stats.securedShare == 30.0 / 40)
        #expect(stats.tcpConnections == 2)
        #expect(stats.latency(0.1) == 0.3)
        #expect(stats.latency(0.5) == 3)
        #expect(stats.latency(1.0) == 10)
        let fromA = TrafficStats.inbound(before: before, after: after, clients: ["a"])
        #expect(fromA.successes == 27 && fromA.failures == 3 && fromA.tcpConnections == 2)
        #expect(TrafficStats.inbound(before: before, after: after, clients: ["b"]).responses == 0)
    }

    @Test func aRestartedProxyCountsFromItsNewValues() throws {
        let before = try Self.scrape("response_total{direction=\"inbound\",classification=\"success\"} 500", at: 0)
        let after = try Self.scrape("response_total{direction=\"inbound\",classification=\"success\"} 20", at: 5)
        #expect(TrafficStats.inbound(before: before, after: after, clients: nil).successes == 20)
    }

    @Test func quantilesInTheInfiniteBucketAreTheHighestBound() {
        var stats = TrafficStats()
        stats.buckets = [5: 1, 10: 1, .infinity: 10]
        #expect(stats.latency(0.99) == 10)
        #expect(TrafficStats().latency(0.5) == nil)
    }
}

@Suite("iptables capture rules (weft proxy-init)")
struct TrafficCaptureTests {
    @Test func installsLinkerdsChainsWithTags() throws {
        var capture = TrafficCapture()
        capture.outboundPortsToIgnore = ["9991"]
        capture.subnetsToIgnore = ["10.0.0.0/8"]
        try capture.validate()
        let rules = capture.installation.map { $0.joined(separator: " ") }
        #expect(rules.first == "-N PROXY_INIT_REDIRECT")
        #expect(rules.contains("-A PROXY_INIT_REDIRECT -p tcp -m multiport --dports 4190,4191 -j RETURN -m comment --comment proxy-init/ignore-port"))
        #expect(rules.contains("-A PROXY_INIT_REDIRECT -s 10.0.0.0/8 -j RETURN -m comment --comment proxy-init/ignore-subnet"))
        #expect(rules.contains("-A PROXY_INIT_OUTPUT -m owner --uid-owner 2102 -j RETURN -m comment --comment proxy-init/ignore-proxy-user-id"))
        #expect(rules.contains("-A PROXY_INIT_OUTPUT -p tcp -m multiport --dports 9991 -j RETURN -m comment --comment proxy-init/ignore-port"))
        #expect(rules.last == "-A OUTPUT -j PROXY_INIT_OUTPUT -m comment --comment proxy-init/install-output")
        // The redirect comes after every exception in its chain.
        let redirect = try #require(rules.firstIndex { $0.contains("redirect-all-outgoing-to-proxy-port") })
        #expect(rules.firstIndex { $0.contains("ignore-loopback") }! < redirect)
    }

    @Test func groupsPortsForMultiport() {
        let ports = (1...16).map(String.init)
        #expect(TrafficCapture.portGroups(ports) == [(1...15).map(String.init).joined(separator: ","), "16"])
        #expect(TrafficCapture.portGroups(["1-2", "3-4", "5-6", "7-8", "9-10", "11-12", "13-14", "15"]) == ["1:2,3:4,5:6,7:8,9:10,11:12,13:14,15"])
        #expect(TrafficCapture.portGroups(["1-2", "3-4", "5-6", "7-8", "9-10", "11-12", "13-14", "15-16"]).count == 2)
        #expect(TrafficCapture.portGroups([]) == [])
    }

    @Test(arguments: [
        (["99999"], [String]()), (["a"], []), (["1-"], []), ([String](), ["10.0.0.0"]), ([], ["10.0.0.0/33"]), ([], ["300.0.0.0/8"]),
    ])
    func refusesBadPortsAndSubnets(ports: [String], subnets: [String]) {
        var capture = TrafficCapture()
        capture.inboundPortsToIgnore = ports
        capture.subnetsToIgnore = subnets
        #expect(throws: TrafficCapture.CaptureError.self) { try capture.validate() }
    }
}

@Suite("Workload addresses")
struct LoopbackAddressesTests {
    @Test func aNameKeepsItsAddressAndAvoidsTakenOnes() throws {
        let first = try #require(LoopbackAddresses.workloadIP(namespace: "shop", name: "web-1", taken: [], ports: []))
        #expect(first.hasPrefix("127.") && (64...127).contains(Int(first.split(separator: ".")[1])!))
        #expect(LoopbackAddresses.workloadIP(namespace: "shop", name: "web-1", taken: [], ports: []) == first)
        let other = try #require(LoopbackAddresses.workloadIP(namespace: "shop", name: "web-1", taken: [first], ports: []))
        #expect(other != first)
        #expect(LoopbackAddresses.workloadIP(namespace: "shop", name: "web-2", taken: [], ports: []) != first)
    }

    @Test func controllerEndpointsParse() {
        guard case .unix(let path)? = HTTPExchange.Endpoint(parsing: "/run/weft/controller.sock") else { Issue.record("socket"); return }
        #expect(path == "/run/weft/controller.sock")
        guard case .tcp(let host, let port)? = HTTPExchange.Endpoint(parsing: "10.0.0.5:9991") else { Issue.record("tcp"); return }
        #expect(host == "10.0.0.5" && port == 9991)
        #expect(HTTPExchange.Endpoint(parsing: "10.0.0.5") == nil)
        #expect(HTTPExchange.Endpoint(parsing: "host:70000") == nil)
        #expect(HTTPExchange.Endpoint(parsing: ":80") == nil)
    }
}
