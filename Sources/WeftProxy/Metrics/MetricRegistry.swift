import Synchronization

/// A monotonically increasing count, updated without locks.
public final class Counter: Sendable {
    private let value = Atomic<UInt64>(0)

    public init() {}

    public func increment(by amount: UInt64 = 1) {
        value.wrappingAdd(amount, ordering: .relaxed)
    }

    public var current: UInt64 { value.load(ordering: .relaxed) }
}

/// A value that goes up and down, updated without locks.
public final class Gauge: Sendable {
    private let value = Atomic<Int64>(0)

    public init() {}

    public func add(_ amount: Int64) {
        value.wrappingAdd(amount, ordering: .relaxed)
    }

    public func set(_ newValue: Int64) {
        value.store(newValue, ordering: .relaxed)
    }

    public var current: Int64 { value.load(ordering: .relaxed) }
}

/// Prometheus label pairs, in the order they are printed.
public struct Labels: Hashable, Sendable {
    public var pairs: [(String, String)]

    public init(_ pairs: [(String, String)]) {
        self.pairs = pairs
    }

    public static func == (lhs: Labels, rhs: Labels) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public func hash(into hasher: inout Hasher) {
        for (name, value) in pairs {
            hasher.combine(name)
            hasher.combine(value)
        }
    }

    /// `{a="1",b="2"}` with values escaped as the text format requires.
    var rendered: String {
        if pairs.isEmpty { return "" }
        let body = pairs.map { name, value in
            var escaped = ""
            for character in value {
                switch character {
                case "\\": escaped += "\\\\"
                case "\"": escaped += "\\\""
                case "\n": escaped += "\\n"
                default: escaped.append(character)
                }
            }
            return "\(name)=\"\(escaped)\""
        }
        return "{" + body.joined(separator: ",") + "}"
    }
}

/// Holds every metric series and renders them in the Prometheus text format.
///
/// Series are created once (per connection target, not per request or byte) under a lock; their
/// values are atomics updated on the data path without one. Each family holds at most
/// ``maximumSeriesPerFamily`` series; beyond that, new label sets share one overflow series so a
/// hostile peer cannot grow memory by inventing targets.
public final class MetricRegistry: Sendable {
    public enum Kind: String, Sendable {
        case counter
        case gauge
        case histogram
    }

    struct Family {
        let kind: Kind
        let help: String
        var counters: [Labels: Counter] = [:]
        var gauges: [Labels: Gauge] = [:]
        var histograms: [Labels: Histogram] = [:]
    }

    public static let maximumSeriesPerFamily = 10_000
    static let overflowLabels = Labels([("overflow", "true")])

    private let families = Mutex<[String: Family]>([:])

    public init() {}

    /// The counter of `name` with `labels`, created on first use.
    public func counter(_ name: String, help: String, labels: Labels) -> Counter {
        series(name, help: help, kind: .counter, labels: labels, in: \.counters, make: Counter.init)
    }

    /// The gauge of `name` with `labels`, created on first use.
    public func gauge(_ name: String, help: String, labels: Labels) -> Gauge {
        series(name, help: help, kind: .gauge, labels: labels, in: \.gauges, make: Gauge.init)
    }

    /// The histogram of `name` with `labels`, created on first use with `bounds`.
    public func histogram(_ name: String, help: String, labels: Labels, bounds: [Double]) -> Histogram {
        series(name, help: help, kind: .histogram, labels: labels, in: \.histograms) { Histogram(bounds: bounds) }
    }

    /// Finds or creates one series, sending label sets past the family's cap to the overflow series.
    private func series<Value: Sendable>(
        _ name: String, help: String, kind: Kind, labels: Labels,
        in table: WritableKeyPath<Family, [Labels: Value]> & Sendable, make: () -> Value
    ) -> Value {
        families.withLock { families in
            var family = families[name] ?? Family(kind: kind, help: help)
            let existing = family[keyPath: table]
            let key = existing[labels] != nil || existing.count < Self.maximumSeriesPerFamily ? labels : Self.overflowLabels
            if let found = existing[key] { return found }
            let created = make()
            family[keyPath: table][key] = created
            families[name] = family
            return created
        }
    }

    /// Every family, sorted by name, series sorted by labels.
    public func render() -> String {
        let snapshot = families.withLock { $0 }
        var text = ""
        for name in snapshot.keys.sorted() {
            let family = snapshot[name]!
            text += "# HELP \(name) \(family.help)\n# TYPE \(name) \(family.kind.rawValue)\n"
            let lines = family.counters.map { "\(name)\($0.key.rendered) \($0.value.current)" }
                + family.gauges.map { "\(name)\($0.key.rendered) \($0.value.current)" }
            for line in lines.sorted() { text += line + "\n" }
            for (labels, histogram) in family.histograms.sorted(by: { $0.key.rendered < $1.key.rendered }) {
                let (cumulative, sum, count) = histogram.snapshot()
                for (bound, value) in zip(histogram.bounds, cumulative) {
                    var withBound = labels
                    withBound.pairs.append(("le", Self.format(bound)))
                    text += "\(name)_bucket\(withBound.rendered) \(value)\n"
                }
                var infinite = labels
                infinite.pairs.append(("le", "+Inf"))
                text += "\(name)_bucket\(infinite.rendered) \(count)\n"
                text += "\(name)_sum\(labels.rendered) \(Self.format(sum))\n"
                text += "\(name)_count\(labels.rendered) \(count)\n"
            }
        }
        return text
    }

    /// Whole numbers without a fraction, as Prometheus clients print them.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
