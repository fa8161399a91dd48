import WeftCore
import WeftPolicy

extension OutboundPolicyWire {
    /// `Filter { oneof kind { failure_injector = 1; RequestHeaderModifier request_header_modifier = 2;
    /// RequestRedirect redirect = 3; ResponseHeaderModifier response_header_modifier = 4; } }` (gRPC
    /// routes use 1 and 2; their injector's status is a gRPC code). nil for a kind not known.
    static func filter(_ message: ProtobufReader) throws -> RouteFilter? {
        var reader = message
        var filter: RouteFilter?
        try reader.fields { field, reader in
            switch field {
            case 1: filter = .failure(try failureInjector(try reader.message()))
            case 2: filter = .requestHeaders(try headerModifier(try reader.message()))
            case 3: filter = .redirect(try redirect(try reader.message()))
            case 4: filter = .responseHeaders(try headerModifier(try reader.message()))
            default: return false
            }
            return true
        }
        return filter
    }

    /// `{ Headers add = 1; Headers set = 2; repeated string remove = 3; }`,
    /// `Headers { repeated Header headers = 1; }`, `Header { string name = 1; bytes value = 2; }`.
    private static func headerModifier(_ message: ProtobufReader) throws -> HeaderModifier {
        var reader = message
        var add: [Header] = []
        var set: [Header] = []
        var remove: [String] = []
        func headers(_ message: ProtobufReader) throws -> [Header] {
            var list = message
            var headers: [Header] = []
            try list.fields { field, list in
                guard field == 1 else { return false }
                var header = try list.message()
                var (name, value) = ("", "")
                try header.fields { part, header in
                    switch part {
                    case 1: name = try header.string()
                    case 2: value = try header.string()
                    default: return false
                    }
                    return true
                }
                headers.append(Header(name: name, value: value))
                return true
            }
            return headers
        }
        try reader.fields { field, reader in
            switch field {
            case 1: add += try headers(try reader.message())
            case 2: set += try headers(try reader.message())
            case 3: remove.append(try reader.string())
            default: return false
            }
            return true
        }
        return try HeaderModifier(add: add, set: set, remove: remove)
    }

    /// `RequestRedirect { Scheme scheme = 1; string host = 2; PathModifier path = 3; uint32 port = 4;
    /// uint32 status = 5; }` (status 0: 301), `Scheme { oneof type { Registered registered = 1 (HTTP 0,
    /// HTTPS 1); string unregistered = 2; } }`, `PathModifier { oneof replace { full = 1; prefix = 2; } }`.
    private static func redirect(_ message: ProtobufReader) throws -> RequestRedirect {
        var reader = message
        var scheme: String?
        var host: String?
        var path: RequestRedirect.PathRewrite?
        var port: UInt16?
        var status = 301
        try reader.fields { field, reader in
            switch field {
            case 1:
                var schemeReader = try reader.message()
                try schemeReader.fields { part, schemeReader in
                    switch part {
                    case 1: scheme = try schemeReader.varint() == 1 ? "https" : "http"
                    case 2: scheme = try schemeReader.string().lowercased()
                    default: return false
                    }
                    return true
                }
            case 2: host = try reader.string().nonEmptyText
            case 3:
                var modifier = try reader.message()
                try modifier.fields { part, modifier in
                    switch part {
                    case 1: path = .full(try modifier.string())
                    case 2: path = .prefix(try modifier.string())
                    default: return false
                    }
                    return true
                }
            case 4:
                let value = try reader.varint()
                guard value <= UInt64(UInt16.max) else { throw RoutePolicyError("redirect port \(value)") }
                port = value == 0 ? nil : UInt16(value)
            case 5:
                let value = try reader.varint()
                status = value == 0 ? 301 : Int(clamping: value)
            default: return false
            }
            return true
        }
        return try RequestRedirect(scheme: scheme, host: host, path: path, port: port, status: status)
    }

    /// `{ uint32 status (HTTP) or code (gRPC) = 1; string message = 2; Ratio ratio = 3; }`,
    /// `Ratio { uint32 numerator = 1; uint32 denominator = 2; }` (no ratio: every request).
    private static func failureInjector(_ message: ProtobufReader) throws -> FailureInjector {
        var reader = message
        var status = 500
        var text = ""
        var (numerator, denominator): (UInt32, UInt32) = (1, 1)
        try reader.fields { field, reader in
            switch field {
            case 1: status = Int(clamping: try reader.varint())
            case 2: text = try reader.string()
            case 3:
                var ratio = try reader.message()
                (numerator, denominator) = (0, 0)
                try ratio.fields { part, ratio in
                    switch part {
                    case 1: numerator = UInt32(clamping: try ratio.varint())
                    case 2: denominator = UInt32(clamping: try ratio.varint())
                    default: return false
                    }
                    return true
                }
            default: return false
            }
            return true
        }
        return try FailureInjector(status: status, message: text, numerator: numerator, denominator: denominator)
    }

    /// `Distribution { oneof kind { Empty empty = 1; FirstAvailable first_available = 2;
    /// RandomAvailable random_available = 3; } }`: lists of `RouteBackend { Backend backend = 1; … }`
    /// and `WeightedRouteBackend { RouteBackend backend = 1; uint32 weight = 2; }`.
    static func distribution(_ message: ProtobufReader) throws -> ClientPolicy.Distribution {
        var reader = message
        var distribution = ClientPolicy.Distribution.firstAvailable([])
        func routeBackend(_ message: ProtobufReader) throws -> ClientPolicy.Backend {
            var body = message
            var found: ClientPolicy.Backend?
            try body.fields { field, body in
                guard field == 1 else { return false }
                found = try backend(try body.message())
                return true
            }
            guard let found else { throw RoutePolicyError("a route backend without a backend") }
            return found
        }
        try reader.fields { field, reader in
            var list = try reader.message()
            switch field {
            case 1: distribution = .firstAvailable([])
            case 2:
                var backends: [ClientPolicy.Backend] = []
                try list.fields { item, list in
                    guard item == 1 else { return false }
                    backends.append(try routeBackend(try list.message()))
                    return true
                }
                distribution = .firstAvailable(backends)
            case 3:
                var weighted: [ClientPolicy.WeightedBackend] = []
                try list.fields { item, list in
                    guard item == 1 else { return false }
                    var entry = try list.message()
                    var chosen: ClientPolicy.Backend?
                    var weight: UInt32 = 0
                    try entry.fields { part, entry in
                        switch part {
                        case 1: chosen = try routeBackend(try entry.message())
                        case 2: weight = UInt32(clamping: try entry.varint())
                        default: return false
                        }
                        return true
                    }
                    guard let chosen else { throw RoutePolicyError("a weighted backend without a backend") }
                    weighted.append(ClientPolicy.WeightedBackend(backend: chosen, weight: weight))
                    return true
                }
                distribution = .randomAvailable(weighted)
            default: return false
            }
            return true
        }
        return distribution
    }

    /// `Backend { Metadata metadata = 1; oneof kind { WeightedAddr forward = 2; BalanceP2c balancer = 3; }
    /// Queue queue = 4; }`, `BalanceP2c { EndpointDiscovery discovery = 1; … }`,
    /// `EndpointDiscovery { DestinationGet dst = 1; }`, `DestinationGet { string path = 1; }`. Only
    /// discovered services are backends here; `forward` is refused.
    private static func backend(_ message: ProtobufReader) throws -> ClientPolicy.Backend {
        var reader = message
        var reference = ResourceReference(group: "", kind: "", name: "", namespace: "")
        var path: String?
        try reader.fields { field, reader in
            switch field {
            case 1: if case .resource(let value) = try metadata(try reader.message()) { reference = value }
            case 2: throw RoutePolicyError("a forward backend (one address) is not supported")
            case 3:
                var balancer = try reader.message()
                try balancer.fields { part, balancer in
                    guard part == 1 else { return false }
                    var discovery = try balancer.message()
                    try discovery.fields { kind, discovery in
                        guard kind == 1 else { return false }
                        var get = try discovery.message()
                        try get.fields { item, get in
                            guard item == 1 else { return false }
                            path = try get.string()
                            return true
                        }
                        return true
                    }
                    return true
                }
            default: return false
            }
            return true
        }
        guard let path, let (host, port) = HostPort.split(path), let port else {
            throw RoutePolicyError("a backend without a host:port discovery path")
        }
        return ClientPolicy.Backend(metadata: reference, discoveryPath: DiscoveryConfiguration.path(host: host, port: port))
    }

    /// `Metadata { oneof kind { string default = 1; Resource resource = 2; } }`, `Resource { group = 1;
    /// kind = 2; name = 3; namespace = 4; section = 5; uint32 port = 6; }`.
    static func metadata(_ message: ProtobufReader) throws -> RouteMetadata {
        var reader = message
        var metadata = RouteMetadata.default("")
        try reader.fields { field, reader in
            switch field {
            case 1: metadata = .default(try reader.string())
            case 2:
                var resource = try reader.message()
                var reference = ResourceReference(group: "", kind: "", name: "", namespace: "")
                try resource.fields { part, resource in
                    switch part {
                    case 1: reference.group = try resource.string()
                    case 2: reference.kind = try resource.string()
                    case 3: reference.name = try resource.string()
                    case 4: reference.namespace = try resource.string()
                    case 6: reference.port = UInt16(exactly: try resource.varint())
                    default: return false
                    }
                    return true
                }
                metadata = .resource(reference)
            default: return false
            }
            return true
        }
        return metadata
    }

    /// `google.protobuf.Duration { int64 seconds = 1; int32 nanos = 2; }`, at most a day.
    static func duration(_ message: ProtobufReader) throws -> Duration {
        var reader = message
        var (seconds, nanos): (Int64, Int64) = (0, 0)
        try reader.fields { field, reader in
            switch field {
            case 1: seconds = Int64(bitPattern: try reader.varint())
            case 2: nanos = Int64(Int32(truncatingIfNeeded: try reader.varint()))
            default: return false
            }
            return true
        }
        guard seconds >= 0, seconds <= 86_400, nanos >= 0, nanos < 1_000_000_000 else {
            throw RoutePolicyError("a duration of \(seconds) s \(nanos) ns")
        }
        return .seconds(seconds) + .nanoseconds(nanos)
    }
}

extension ProtobufReader {
    /// Reads every field in turn: `body` gets the field number and this reader positioned at the
    /// value, reads it and returns true, or returns false to have it skipped. A value read as
    /// another wire type than it has (it would end elsewhere) is refused.
    mutating func fields(_ body: (UInt64, inout ProtobufReader) throws -> Bool) throws {
        while !isAtEnd {
            let (field, wireType) = try key()
            var end = self
            try end.skip(wireType: wireType)
            var value = self
            if try body(field, &value) {
                guard value.bytes.startIndex == end.bytes.startIndex else {
                    throw ProtobufDecodingError("field \(field) is not of the type its number has")
                }
            }
            self = end
        }
    }
}

extension String {
    fileprivate var nonEmptyText: String? { isEmpty ? nil : self }
}
