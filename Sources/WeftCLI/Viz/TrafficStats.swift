/// Golden metrics of the traffic a set of proxies received between two readings: what
/// `weft viz stat` prints. Counters are compared series by series (a series that is new since
/// the first reading counts from zero, one that went backwards — a restarted proxy — from its
/// new value).
struct TrafficStats {
    var successes: Double = 0
    var failures: Double = 0
    /// Responses to requests that came over mutual TLS.
    var secured: Double = 0
    /// Cumulative latency bucket counts by upper bound (milliseconds; +Inf included).
    var buckets: [Double: Double] = [:]
    /// Inbound connections open at the second reading.
    var tcpConnections: Double = 0
    /// Readings that answered, of those attempted (MESHED).
    var meshed = 0
    var workloads = 0
    /// Seconds between the readings.
    var seconds: Double = 0

    var responses: Double { successes + failures }
    var successRate: Double? { responses > 0 ? successes / responses : nil }
    var requestsPerSecond: Double { seconds > 0 ? responses / seconds : 0 }
    var securedShare: Double? { responses > 0 ? secured / responses : nil }

    /// The `q` quantile of latency in milliseconds, interpolated inside its bucket as
    /// Prometheus' `histogram_quantile` does; nil without responses.
    func latency(_ q: Double) -> Double? {
        let bounds = buckets.keys.sorted()
        guard let total = bounds.last.flatMap({ buckets[$0] }), total > 0 else { return nil }
        let rank = q * total
        var lowerBound = 0.0
        var lowerCount = 0.0
        for bound in bounds {
            let count = buckets[bound] ?? 0
            if count >= rank {
                guard bound.isFinite else { return lowerBound }
                guard count > lowerCount else { return bound }
                return lowerBound + (bound - lowerBound) * (rank - lowerCount) / (count - lowerCount)
            }
            lowerBound = bound
            lowerCount = count
        }
        return lowerBound
    }

    /// What one workload's proxy received between `before` and `after`, only from `clients`
    /// (client identities) when given.
    static func inbound(before: ProxyScrape?, after: ProxyScrape, clients: Set<String>?) -> TrafficStats {
        var stats = TrafficStats()
        stats.workloads = 1
        stats.meshed = after.reachable ? 1 : 0
        stats.seconds = before.map { after.time.timeIntervalSince($0.time) } ?? 0
        guard after.reachable else { return stats }
        var earlier: [SeriesKey: Double] = [:]
        for sample in before?.samples ?? [] { earlier[SeriesKey(sample)] = sample.value }
        func delta(_ sample: MetricSample) -> Double {
            let previous = earlier[SeriesKey(sample)] ?? 0
            return sample.value >= previous ? sample.value - previous : sample.value
        }
        func admitted(_ sample: MetricSample) -> Bool {
            guard sample.labels["direction"] == "inbound" else { return false }
            guard let clients else { return true }
            return sample.labels["client_id"].map(clients.contains) ?? false
        }
        for sample in after.samples ?? [] where admitted(sample) {
            switch sample.name {
            case "response_total":
                let change = delta(sample)
                if sample.labels["classification"] == "success" { stats.successes += change } else { stats.failures += change }
                if sample.labels["tls"] == "true" { stats.secured += change }
            case "response_latency_ms_bucket":
                guard let text = sample.labels["le"], let bound = text == "+Inf" ? Double.infinity : Double(text) else { continue }
                stats.buckets[bound, default: 0] += delta(sample)
            case "tcp_open_connections" where sample.labels["peer"] == "src":
                stats.tcpConnections += sample.value
            default:
                continue
            }
        }
        return stats
    }

    /// The traffic of several workloads together (a service's, a namespace's).
    static func + (lhs: TrafficStats, rhs: TrafficStats) -> TrafficStats {
        var sum = lhs
        sum.successes += rhs.successes
        sum.failures += rhs.failures
        sum.secured += rhs.secured
        sum.tcpConnections += rhs.tcpConnections
        sum.meshed += rhs.meshed
        sum.workloads += rhs.workloads
        sum.seconds = max(lhs.seconds, rhs.seconds)
        for (bound, count) in rhs.buckets { sum.buckets[bound, default: 0] += count }
        return sum
    }

    /// A series' identity: its name and labels.
    struct SeriesKey: Hashable {
        let name: String
        let labels: [String: String]

        init(_ sample: MetricSample) {
            name = sample.name
            labels = sample.labels
        }
    }
}
