/// A choice by weight among backends (a ServiceProfile's `dstOverrides`, a route's weighted
/// `backendRefs`): each is drawn with probability weight / total. Backends of weight 0 are
/// never drawn; with no weight at all there is nothing to draw.
public struct WeightedDistribution<Element: Sendable>: Sendable {
    public let entries: [(element: Element, weight: UInt32)]
    public let totalWeight: UInt64

    public init(_ entries: [(element: Element, weight: UInt32)]) {
        self.entries = entries
        totalWeight = entries.reduce(0) { $0 + UInt64($1.weight) }
    }

    public var isEmpty: Bool { totalWeight == 0 }

    /// One element drawn by weight, or nil when the total weight is 0.
    public func draw<R: RandomNumberGenerator>(using random: inout R) -> Element? {
        guard totalWeight > 0 else { return nil }
        var ticket = UInt64.random(in: 0..<totalWeight, using: &random)
        for entry in entries {
            if ticket < UInt64(entry.weight) { return entry.element }
            ticket -= UInt64(entry.weight)
        }
        return nil
    }
}
