import WeftCore

extension Io_Linkerd_Proxy_Net_IPAddress {
    /// The wire form of an address: IPv4 as a fixed32 of the big-endian octets, IPv6 as two fixed64
    /// halves.
    public init(_ address: IPAddress) {
        self.init()
        switch address {
        case .v4(let value):
            ipv4 = value
        case .v6(let first, let last):
            var v6 = Io_Linkerd_Proxy_Net_IPv6()
            v6.first = first
            v6.last = last
            ipv6 = v6
        }
    }

    /// The address, or `nil` when neither arm is set.
    public var address: IPAddress? {
        switch ip {
        case .ipv4(let value)?: .v4(value)
        case .ipv6(let v6)?: .v6(first: v6.first, last: v6.last)
        case nil: nil
        }
    }
}

extension Io_Linkerd_Proxy_Net_TcpAddress {
    public init(_ address: IPAddress, port: UInt16) {
        self.init()
        ip = Io_Linkerd_Proxy_Net_IPAddress(address)
        self.port = UInt32(port)
    }
}

extension Io_Linkerd_Proxy_Net_IPNetwork {
    public init(_ network: IPNetwork) {
        self.init()
        ip = Io_Linkerd_Proxy_Net_IPAddress(network.address)
        prefixLen = UInt32(network.prefixLength)
    }
}
