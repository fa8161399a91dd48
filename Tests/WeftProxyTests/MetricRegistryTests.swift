import Testing
@testable import WeftProxy

@Suite("Metric registry")
struct MetricRegistryTests {
    @Test func rendersPrometheusText() {
        let registry = MetricRegistry()
        let labels = Labels([("direction", "inbound"), ("target_addr", "10.0.0.1:80"), ("note", "a \"quoted\"\\path\n")])
        registry.counter("request_total", help: "Total count of HTTP requests", labels: labels).increment(by: 3)
        registry.gauge("tcp_open_connections", help: "Open", labels: Labels([("peer", "src")])).add(2)
        let latency = registry.histogram("response_latency_ms", help: "Latency", labels: Labels([("status_code", "200")]), bounds: [1, 10])
        latency.observe(0.5)
        latency.observe(5)
        latency.observe(50)
        #expect(registry.render() == """
            # HELP request_total Total count of HTTP requests
            # TYPE request_total counter
            request_total{direction="inbound",target_addr="10.0.0.1:80",note="a \\"quoted\\"\\\\path\\n"} 3
            # HELP response_latency_ms Latency
            # TYPE response_latency_ms histogram
            response_latency_ms_bucket{status_code="200",le="1"} 1
            response_latency_ms_bucket{status_code="200",le="10"} 2
            response_latency_ms_bucket{status_code="200",le="+Inf"} 3
            response_latency_ms_sum{status_code="200"} 55.5
            response_latency_ms_count{status_code="200"} 3
            # HELP tcp_open_connections Open
            # TYPE tcp_open_connections gauge
            tcp_open_connections{peer="src"} 2

            """)
    }

    @Test func theSameLabelsGiveTheSameSeries() {
        let registry = MetricRegistry()
        let first = registry.counter("x_total", help: "x", labels: Labels([("a", "1")]))
        let second = registry.counter("x_total", help: "x", labels: Labels([("a", "1")]))
        #expect(first === second)
    }

    @Test func cardinalityIsCapped() {
        // reliability.md row 42: a flood of distinct label values cannot grow memory without bound.
        let registry = MetricRegistry()
        for index in 0..<(MetricRegistry.maximumSeriesPerFamily + 5_000) {
            registry.counter("request_total", help: "r", labels: Labels([("authority", "host-\(index)")])).increment()
        }
        let lines = registry.render().split(separator: "\n").filter { $0.hasPrefix("request_total{") }
        #expect(lines.count == MetricRegistry.maximumSeriesPerFamily + 1)
        #expect(lines.contains("request_total{overflow=\"true\"} 5000"))
    }
}
