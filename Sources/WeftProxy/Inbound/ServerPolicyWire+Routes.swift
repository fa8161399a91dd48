import WeftCore
import WeftPolicy

extension ServerPolicyWire {
    /// `HttpRoute`/`GrpcRoute { Metadata metadata = 1; repeated HostMatch hosts = 2; repeated
    /// Authz authorizations = 3; repeated Rule rules = 4; }`, `Rule { repeated …RouteMatch
    /// matches = 1; repeated Filter filters = 2; }`: a rule without matches takes every request.
    static func route(_ reader: ProtobufReader, grpc: Bool) throws(ProtobufDecodingError) -> InboundHTTPRoute {
        var reader = reader
        var route = InboundHTTPRoute(metadata: .default("default"), matches: [])
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2): route.metadata = try metadata(try reader.message())
            case (2, 2): throw ProtobufDecodingError("inbound route host matches are not enforced by this proxy")
            case (3, 2):
                guard route.authorizations.count < limit else { throw ProtobufDecodingError("more than \(limit) authorizations on a route") }
                route.authorizations.append(try authorization(try reader.message()))
            case (4, 2):
                var rule = try reader.message()
                var matched = false
                while !rule.isAtEnd {
                    let (part, partType) = try rule.key()
                    switch (part, partType) {
                    case (1, 2):
                        matched = true
                        guard route.matches.count < limit else { throw ProtobufDecodingError("more than \(limit) matches on a route") }
                        let match = grpc ? try grpcMatch(try rule.message()) : try httpMatch(try rule.message())
                        if match.usesRegex { throw ProtobufDecodingError("inbound regular-expression matches are not evaluated by this proxy") }
                        route.matches.append(match)
                    case (2, 2): throw ProtobufDecodingError("inbound route filters are not applied by this proxy")
                    default: try rule.skip(wireType: partType)
                    }
                }
                if !matched { route.matches.append(InboundRouteMatch()) }
            default: try reader.skip(wireType: wireType)
            }
        }
        return route
    }

    /// `HttpRouteMatch { PathMatch path = 1; repeated HeaderMatch headers = 2; repeated
    /// QueryParamMatch query_params = 3; HttpMethod method = 4; }`, `PathMatch { oneof kind {
    /// string exact = 1; string prefix = 2; string regex = 3; } }`.
    private static func httpMatch(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> InboundRouteMatch {
        var reader = reader
        var match = InboundRouteMatch()
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                var kind = try reader.message()
                while !kind.isAtEnd {
                    let (arm, armType) = try kind.key()
                    switch (arm, armType) {
                    case (1, 2): match.path = .exact(try kind.string())
                    case (2, 2): match.path = .prefix(try kind.string())
                    case (3, 2): match.path = .regex(try kind.string())
                    default: try kind.skip(wireType: armType)
                    }
                }
            case (2, 2): match.headers.append(try self.field(try reader.message(), lowercased: true))
            case (3, 2): match.queryParams.append(try self.field(try reader.message(), lowercased: false))
            case (4, 2): match.method = try method(try reader.message())
            default: try reader.skip(wireType: wireType)
            }
        }
        return match
    }

    /// `GrpcRouteMatch { GrpcRpcMatch rpc = 1; repeated HeaderMatch headers = 2; }`,
    /// `GrpcRpcMatch { string service = 1; string method = 2; }` (empty: any).
    private static func grpcMatch(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> InboundRouteMatch {
        var reader = reader
        var match = InboundRouteMatch(path: .grpc(service: nil, method: nil))
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                var rpc = try reader.message()
                var (service, method): (String?, String?) = (nil, nil)
                while !rpc.isAtEnd {
                    let (part, partType) = try rpc.key()
                    switch (part, partType) {
                    case (1, 2): service = try rpc.string()
                    case (2, 2): method = try rpc.string()
                    default: try rpc.skip(wireType: partType)
                    }
                }
                match.path = .grpc(service: service?.isEmpty == false ? service : nil, method: method?.isEmpty == false ? method : nil)
            case (2, 2): match.headers.append(try self.field(try reader.message(), lowercased: true))
            default: try reader.skip(wireType: wireType)
            }
        }
        return match
    }

    /// `HeaderMatch`/`QueryParamMatch { string name = 1; oneof value { exact = 2; string regex = 3; } }`.
    private static func field(_ reader: ProtobufReader, lowercased: Bool) throws(ProtobufDecodingError) -> InboundRouteMatch.Field {
        var reader = reader
        var field = InboundRouteMatch.Field(name: "", value: .exact(""))
        while !reader.isAtEnd {
            let (number, wireType) = try reader.key()
            switch (number, wireType) {
            case (1, 2):
                let name = try reader.string()
                field.name = lowercased ? name.lowercased() : name
            case (2, 2): field.value = .exact(try reader.string())
            case (3, 2): field.value = .regex(try reader.string())
            default: try reader.skip(wireType: wireType)
            }
        }
        return field
    }

    /// `HttpMethod { oneof type { Registered registered = 1; string unregistered = 2; } }`.
    private static func method(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> String {
        var reader = reader
        var method = "GET"
        let registered = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "HEAD", "TRACE"]
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 0):
                let index = try reader.varint()
                guard index < registered.count else { throw ProtobufDecodingError("unknown registered method \(index)") }
                method = registered[Int(index)]
            case (2, 2): method = try reader.string().uppercased()
            default: try reader.skip(wireType: wireType)
            }
        }
        return method
    }
}
