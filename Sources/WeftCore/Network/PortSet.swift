/// A set of TCP ports, written `a,b,c-d`.
public struct PortSet: Hashable, Sendable {
    public private(set) var ranges: [ClosedRange<UInt16>]

    public init(_ ranges: [ClosedRange<UInt16>] = []) {
        self.ranges = ranges
    }

    public init?(parsing text: String) {
        ranges = []
        for part in text.split(separator: ",").map({ $0.filter { $0 != " " } }) where !part.isEmpty {
            let bounds = part.split(separator: "-", maxSplits: 1).map { UInt16($0) }
            guard !bounds.contains(where: { $0 == nil || $0 == 0 }) else { return nil }
            let low = bounds[0]!, high = bounds.count == 2 ? bounds[1]! : low
            guard low <= high else { return nil }
            ranges.append(low...high)
        }
    }

    public func contains(_ port: UInt16) -> Bool {
        ranges.contains { $0.contains(port) }
    }

    /// Linkerd's default opaque ports (SMTP, MySQL, Galera, PostgreSQL, Redis, Elasticsearch, memcached).
    public static let linkerdDefaultOpaquePorts = PortSet(parsing: "25,587,3306,4444,5432,6379,9300,11211")!
}
