import NIOCore
import WeftCore

/// An endpoint as the destination service describes it (`WeightedAddr`, linkerd-compat §1.4).
struct DiscoveredEndpoint: Hashable, Sendable {
    let address: SocketAddress
    /// The identity the endpoint's proxy must prove, and the TLS server name to ask for.
    var tlsIdentity: String?
    var serverName: String?
    /// `protocol_hint.opaque`, and the peer proxy's inbound port for opaque transport.
    var opaque = false
    var opaqueTransportPort: UInt16?
    /// `protocol_hint.h2`: the endpoint's proxy takes HTTP/1 requests upgraded to HTTP/2 with
    /// `l5d-orig-proto`.
    var h2 = false
    var labels: [String: String] = [:]

    init(address: SocketAddress) {
        self.address = address
    }

    /// The peer to reach over mesh TLS, when discovery named one.
    var meshPeer: MeshPeer? {
        guard let tlsIdentity, let serverName else { return nil }
        return MeshPeer(identity: tlsIdentity, serverName: serverName)
    }
}

/// One authority of a profile's traffic split (`DestinationProfile.dst_overrides`).
struct TrafficTarget: Hashable, Sendable {
    /// The `Get` path of the authority.
    let path: String
    let weight: UInt32
}

/// A `DestinationProfile` as discovery hands it to the loops: its traffic split, read at once,
/// and its bytes, from which each loop reads the routes (their patterns stay on the loop).
struct ProfileUpdate: Equatable, Sendable {
    let split: [TrafficTarget]
    let bytes: [UInt8]
}

/// One `Update` of a `Destination.Get` stream.
enum DestinationUpdate: Equatable, Sendable {
    case add([DiscoveredEndpoint], labels: [String: String])
    case remove([SocketAddress])
    case noEndpoints(exists: Bool)
}

/// The destination API's messages in protobuf wire format, by hand (the proxy does not link
/// SwiftProtobuf; tests check these against the generated types).
enum DestinationWire {
    /// `GetDestination { string scheme = 1; string path = 2; string context_token = 3; }`.
    static func encodeGet(path: String, contextToken: String) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.field(2, path)
        writer.field(3, contextToken)
        return writer.bytes
    }

    /// The traffic split of a `DestinationProfile` (field 3, `WeightedDst { string authority = 1;
    /// uint32 weight = 2; }`); routes and the rest are not read yet. Authorities that are not
    /// `host:port` are left out.
    static func decodeTrafficSplit(_ bytes: [UInt8]) throws(ProtobufDecodingError) -> [TrafficTarget] {
        var reader = ProtobufReader(bytes[...])
        var split: [TrafficTarget] = []
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            guard field == 3, wireType == 2 else {
                try reader.skip(wireType: wireType)
                continue
            }
            var override = try reader.message()
            var authority = ""
            var weight: UInt64 = 0
            while !override.isAtEnd {
                let (field, wireType) = try override.key()
                switch (field, wireType) {
                case (1, 2): authority = try override.string()
                case (2, 0): weight = try override.varint()
                default: try override.skip(wireType: wireType)
                }
            }
            if let (host, port) = HostPort.split(authority), weight > 0 {
                split.append(TrafficTarget(path: DiscoveryConfiguration.path(host: host, port: port ?? 80), weight: UInt32(clamping: weight)))
            }
        }
        return split
    }

    static func decodeUpdate(_ bytes: [UInt8]) throws(ProtobufDecodingError) -> DestinationUpdate {
        var reader = ProtobufReader(bytes[...])
        var update: DestinationUpdate?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): update = try addSet(reader.message())
            case (2, 2):
                var set = try reader.message()
                var addresses: [SocketAddress] = []
                while !set.isAtEnd {
                    let (field, wireType) = try set.key()
                    if field == 1, wireType == 2 { addresses.append(try tcpAddress(set.message())) } else { try set.skip(wireType: wireType) }
                }
                update = .remove(addresses)
            case (3, 2):
                var message = try reader.message()
                var exists = false
                while !message.isAtEnd {
                    let (field, wireType) = try message.key()
                    if field == 1, wireType == 0 { exists = try message.varint() != 0 } else { try message.skip(wireType: wireType) }
                }
                update = .noEndpoints(exists: exists)
            default:
                try reader.skip(wireType: wireType)
            }
        }
        guard let update else { throw ProtobufDecodingError("an Update with none of add, remove, no_endpoints") }
        return update
    }

    private static func addSet(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> DestinationUpdate {
        var reader = reader
        var endpoints: [DiscoveredEndpoint] = []
        var labels: [String: String] = [:]
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): endpoints.append(try weightedAddress(reader.message()))
            case (2, 2):
                let (key, value) = try mapEntry(reader.message())
                labels[key] = value
            default: try reader.skip(wireType: wireType)
            }
        }
        return .add(endpoints, labels: labels)
    }

    static func weightedAddress(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> DiscoveredEndpoint {
        var reader = reader
        var address: SocketAddress?
        var endpoint: DiscoveredEndpoint?
        var tls: (String?, String?) = (nil, nil)
        var opaque = false
        var h2 = false
        var transportPort: UInt16?
        var labels: [String: String] = [:]
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): address = try tcpAddress(reader.message())
            case (4, 2):
                let (key, value) = try mapEntry(reader.message())
                labels[key] = value
            case (5, 2): tls = try tlsIdentity(reader.message())
            case (6, 2):
                var hint = try reader.message()
                while !hint.isAtEnd {
                    let (field, wireType) = try hint.key()
                    switch (field, wireType) {
                    case (3, 2):
                        _ = try hint.lengthDelimited()
                        opaque = true
                    case (1, 2):
                        _ = try hint.lengthDelimited()
                        h2 = true
                    case (2, 2):
                        var transport = try hint.message()
                        while !transport.isAtEnd {
                            let (field, wireType) = try transport.key()
                            if field == 1, wireType == 0 { transportPort = UInt16(exactly: try transport.varint()) } else { try transport.skip(wireType: wireType) }
                        }
                    default: try hint.skip(wireType: wireType)
                    }
                }
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let address else { throw ProtobufDecodingError("a WeightedAddr without an address") }
        endpoint = DiscoveredEndpoint(address: address)
        endpoint!.tlsIdentity = tls.0
        endpoint!.serverName = tls.1
        endpoint!.opaque = opaque
        endpoint!.opaqueTransportPort = transportPort
        endpoint!.h2 = h2
        endpoint!.labels = labels
        return endpoint!
    }

    /// `TlsIdentity`: the identity (DNS-like name or URI) and the server name.
    private static func tlsIdentity(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> (String?, String?) {
        var reader = reader
        var identity: String?
        var serverName: String?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2), (3, 2), (4, 2):
                var inner = try reader.message()
                var value: String?
                while !inner.isAtEnd {
                    let (innerField, innerType) = try inner.key()
                    if innerField == 1, innerType == 2 { value = try inner.string() } else { try inner.skip(wireType: innerType) }
                }
                if field == 4 { serverName = value } else { identity = value }
            default: try reader.skip(wireType: wireType)
            }
        }
        return (identity, serverName)
    }

    /// A `map<string, string>` entry: `{ string key = 1; string value = 2; }`.
    static func mapEntry(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> (String, String) {
        var reader = reader
        var key = "", value = ""
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): key = try reader.string()
            case (2, 2): value = try reader.string()
            default: try reader.skip(wireType: wireType)
            }
        }
        return (key, value)
    }

    /// `IPAddress { oneof ip { fixed32 ipv4 = 1; IPv6 ipv6 = 2; } }`, `IPv6 { fixed64 first = 1;
    /// fixed64 last = 2; }`; nil when neither is set.
    static func ipAddress(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> IPAddress? {
        var reader = reader
        var ip: IPAddress?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 5): ip = .v4(try reader.fixed32())
            case (2, 2):
                var v6 = try reader.message()
                var first: UInt64 = 0, last: UInt64 = 0
                while !v6.isAtEnd {
                    let (half, halfType) = try v6.key()
                    switch (half, halfType) {
                    case (1, 1): first = try v6.fixed64()
                    case (2, 1): last = try v6.fixed64()
                    default: try v6.skip(wireType: halfType)
                    }
                }
                ip = .v6(first: first, last: last)
            default: try reader.skip(wireType: wireType)
            }
        }
        return ip
    }

    /// `TcpAddress { IPAddress ip = 1; uint32 port = 2; }`.
    static func tcpAddress(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> SocketAddress {
        var reader = reader
        var ip: IPAddress?
        var port: UInt64 = 0
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): ip = try ipAddress(try reader.message())
            case (2, 0): port = try reader.varint()
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let ip, (1...65535).contains(port), let address = try? SocketAddress(ipAddress: ip.description, port: Int(port)) else {
            throw ProtobufDecodingError("a TcpAddress without an IP or a port in 1...65535")
        }
        return address
    }
}
