import WeftCore
import WeftPolicy

/// The authorization messages of `inbound.proto`, `net.proto` and `meta.proto`.
extension ServerPolicyWire {
    /// At most this many networks, exceptions, identities and suffixes in one authorization.
    static let partsLimit = 1_000

    /// `Authz { repeated Network networks = 1; Authn authentication = 2; map<string, string>
    /// labels = 3; Metadata metadata = 4; }`. An authorization without an authentication is
    /// refused (the API says it must be set); one without networks admits no one, as the API says.
    static func authorization(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> Authorization {
        var reader = reader
        var networks: [Authorization.Network] = []
        var authentication: Authorization.Authentication?
        var labels: [String: String] = [:]
        var metadata: PolicyMetadata?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                guard networks.count < partsLimit else { throw ProtobufDecodingError("more than \(partsLimit) networks in an authorization") }
                networks.append(try network(try reader.message()))
            case (2, 2): authentication = try authenticationOf(try reader.message())
            case (3, 2):
                let (key, value) = try DestinationWire.mapEntry(try reader.message())
                labels[key] = value
            case (4, 2): metadata = try self.metadata(try reader.message())
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let authentication else { throw ProtobufDecodingError("an authorization without an authentication") }
        // Older control planes name an authorization by its labels only.
        let named = metadata ?? labels["name"].map { name in
            labels["kind"] == "default" ? .default(name) : .resource(group: labels["group"] ?? "", kind: labels["kind"] ?? "", name: name)
        } ?? .default("unnamed")
        return Authorization(networks: networks, authentication: authentication, labels: labels, metadata: named)
    }

    /// `Network { IPNetwork net = 1; repeated IPNetwork except = 2; }`.
    private static func network(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> Authorization.Network {
        var reader = reader
        var net: IPNetwork?
        var except: [IPNetwork] = []
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): net = try ipNetwork(try reader.message())
            case (2, 2):
                guard except.count < partsLimit else { throw ProtobufDecodingError("more than \(partsLimit) exceptions in a network") }
                except.append(try ipNetwork(try reader.message()))
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let net else { throw ProtobufDecodingError("a network without its net") }
        return Authorization.Network(net: net, except: except)
    }

    /// `IPNetwork { IPAddress ip = 1; uint32 prefix_len = 2; }`, `IPAddress { oneof ip { fixed32
    /// ipv4 = 1; IPv6 ipv6 = 2; } }`, `IPv6 { fixed64 first = 1; fixed64 last = 2; }`. A prefix
    /// longer than the address is refused.
    private static func ipNetwork(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> IPNetwork {
        var reader = reader
        var address: IPAddress?
        var prefix: UInt64 = 0
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): address = try DestinationWire.ipAddress(try reader.message())
            case (2, 0): prefix = try reader.varint()
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let address else { throw ProtobufDecodingError("a network without an address") }
        guard prefix <= UInt64(address.bitWidth) else { throw ProtobufDecodingError("a /\(prefix) network of \(address)") }
        return IPNetwork(address: address, prefixLength: Int(prefix))
    }

    /// `Authn { oneof permit { PermitUnauthenticated unauthenticated = 1; PermitMeshTLS meshTLS =
    /// 2; } }`, `PermitMeshTLS { oneof clients { PermitUnauthenticated unauthenticated = 1;
    /// PermitClientIdentities identities = 2; } }`, `PermitClientIdentities { repeated Identity
    /// identities = 1; repeated IdentitySuffix suffixes = 2; }`. Mesh TLS that admits
    /// unauthenticated TLS clients is held to any identity: this proxy admits no TLS client
    /// without one.
    private static func authenticationOf(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> Authorization.Authentication {
        var reader = reader
        var found: Authorization.Authentication?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                _ = try reader.message()
                found = .unauthenticated
            case (2, 2):
                var meshTLS = try reader.message()
                var identities: [String] = []
                var suffixes: [[String]] = []
                var anyClient = false
                while !meshTLS.isAtEnd {
                    let (arm, armType) = try meshTLS.key()
                    switch (arm, armType) {
                    case (1, 2):
                        _ = try meshTLS.message()
                        anyClient = true
                    case (2, 2):
                        var clients = try meshTLS.message()
                        while !clients.isAtEnd {
                            let (kind, kindType) = try clients.key()
                            guard identities.count + suffixes.count < partsLimit else {
                                throw ProtobufDecodingError("more than \(partsLimit) identities in an authorization")
                            }
                            switch (kind, kindType) {
                            case (1, 2): identities.append(try singleString(try clients.message()))
                            case (2, 2): suffixes.append(try repeatedStrings(try clients.message()))
                            default: try clients.skip(wireType: kindType)
                            }
                        }
                    default: try meshTLS.skip(wireType: armType)
                    }
                }
                found = anyClient ? .meshTLS(identities: [], suffixes: [[]]) : .meshTLS(identities: identities, suffixes: suffixes)
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let found else { throw ProtobufDecodingError("an authentication that permits nothing known") }
        return found
    }

    /// `Metadata { oneof kind { string default = 1; Resource resource = 2; } }`, `Resource {
    /// string group = 1; string kind = 2; string name = 3; … }`.
    static func metadata(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> PolicyMetadata {
        var reader = reader
        var found = PolicyMetadata.default("unnamed")
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): found = .default(try reader.string())
            case (2, 2):
                var resource = try reader.message()
                var (group, kind, name) = ("", "", "")
                while !resource.isAtEnd {
                    let (part, partType) = try resource.key()
                    switch (part, partType) {
                    case (1, 2): group = try resource.string()
                    case (2, 2): kind = try resource.string()
                    case (3, 2): name = try resource.string()
                    default: try resource.skip(wireType: partType)
                    }
                }
                found = .resource(group: group, kind: kind, name: name)
            default: try reader.skip(wireType: wireType)
            }
        }
        return found
    }

    /// `Identity { string name = 1; }`.
    private static func singleString(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> String {
        try repeatedStrings(reader).last ?? ""
    }

    /// `IdentitySuffix { repeated string parts = 1; }`.
    private static func repeatedStrings(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> [String] {
        var reader = reader
        var strings: [String] = []
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            guard field == 1, wireType == 2 else {
                try reader.skip(wireType: wireType)
                continue
            }
            guard strings.count < 128 else { throw ProtobufDecodingError("an identity of more than 128 parts") }
            strings.append(try reader.string())
        }
        return strings
    }
}
