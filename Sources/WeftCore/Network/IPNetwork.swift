/// An address range in CIDR form, e.g. `10.0.0.0/8` or `fd00::/8`. A bare address is a
/// single-address network (`/32` or `/128`).
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    /// The network's first address (host bits cleared).
    public let address: IPAddress
    public let prefixLength: Int

    /// Why a CIDR was refused.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public let input: String
        public let reason: String
        public var description: String { "invalid CIDR \"\(input)\": \(reason)" }

        public init(input: String, reason: String) {
            self.input = input
            self.reason = reason
        }
    }

    /// Parses `address[/prefix]`; host bits after the prefix are cleared, as Go's ParseCIDR does.
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else {
            throw ParseError(input: text, reason: "\"\(parts[0])\" is not an IPv4 or IPv6 address")
        }
        var prefix = address.bitWidth
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(parts[1]) else {
                throw ParseError(input: text, reason: "prefix length must be a number")
            }
            guard value <= address.bitWidth else {
                throw ParseError(input: text, reason: "prefix length \(value) is over \(address.bitWidth)")
            }
            prefix = value
        }
        self.init(address: address, prefixLength: prefix)
    }

    /// A network of `address` with its host bits cleared; `prefixLength` is clamped to the width.
    public init(address: IPAddress, prefixLength: Int) {
        let length = max(0, min(prefixLength, address.bitWidth))
        switch address {
        case .v4(let value):
            let mask: UInt32 = length == 0 ? 0 : ~UInt32(0) << (32 - length)
            self.address = .v4(value & mask)
        case .v6(let first, let last):
            let firstMask: UInt64 = length == 0 ? 0 : (length >= 64 ? ~0 : ~UInt64(0) << (64 - length))
            let lastMask: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~UInt64(0) << (128 - length))
            self.address = .v6(first: first & firstMask, last: last & lastMask)
        }
        self.prefixLength = length
    }

    /// Whether `other` lies wholly inside this network.
    public func contains(_ other: IPNetwork) -> Bool {
        guard other.address.bitWidth == address.bitWidth, other.prefixLength >= prefixLength else { return false }
        return IPNetwork(address: other.address, prefixLength: prefixLength).address == address
    }

    /// Whether `ip` lies inside this network.
    public func contains(_ ip: IPAddress) -> Bool {
        contains(IPNetwork(address: ip, prefixLength: ip.bitWidth))
    }

    public var description: String { "\(address)/\(prefixLength)" }
}
