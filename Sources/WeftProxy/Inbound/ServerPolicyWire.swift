import WeftCore
import WeftPolicy

/// Reads the proxy API's `inbound.Server` message by hand (the proxy links no protobuf runtime)
/// into a ``ServerPolicy``: the protocol, the authorizations, the HTTP routes with their own
/// authorizations, the labels. What the proxy cannot enforce exactly (route matches on headers,
/// query parameters, methods or regular expressions, gRPC route matches) makes the whole policy
/// refused, and a refused policy denies: the proxy never admits more than a policy says.
enum ServerPolicyWire {
    /// At most this many authorizations, and this many routes, per port.
    static let limit = 1_000

    /// `Server { ProxyProtocol protocol = 1; repeated IPAddress server_ips = 2; repeated Authz
    /// authorizations = 3; map<string, string> labels = 4; }`.
    static func decode(server bytes: [UInt8]) throws(ProtobufDecodingError) -> ServerPolicy {
        var reader = ProtobufReader(bytes[...])
        var proxyProtocol: ServerPolicy.ProxyProtocol?
        var routes: [InboundHTTPRoute] = []
        var authorizations: [Authorization] = []
        var labels: [String: String] = [:]
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                let (kind, found) = try protocolAndRoutes(try reader.message())
                proxyProtocol = kind
                routes = found
            case (3, 2):
                guard authorizations.count < limit else { throw ProtobufDecodingError("more than \(limit) authorizations") }
                authorizations.append(try authorization(try reader.message()))
            case (4, 2):
                let (key, value) = try mapEntry(try reader.message())
                labels[key] = value
            default: try reader.skip(wireType: wireType)
            }
        }
        guard let proxyProtocol else { throw ProtobufDecodingError("a Server without a protocol") }
        return ServerPolicy(proxyProtocol: proxyProtocol, authorizations: authorizations,
                            httpRoutes: routes.isEmpty ? [.default] : routes, labels: labels)
    }

    /// The protocol only (kept for callers that need no more).
    static func proxyProtocol(server bytes: [UInt8]) throws(ProtobufDecodingError) -> ServerPolicy.ProxyProtocol {
        try decode(server: bytes).proxyProtocol
    }

    /// `ProxyProtocol { oneof kind { Detect detect = 1; Opaque opaque = 2; Tls tls = 3; Http1
    /// http1 = 4; Http2 http2 = 5; Grpc grpc = 6; } }`; `Detect { Duration timeout = 1; repeated
    /// HttpRoute http_routes = 3; }`, `Http1`/`Http2 { repeated HttpRoute routes = 2; }`,
    /// `Grpc { repeated GrpcRoute routes = 2; }`.
    private static func protocolAndRoutes(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> (ServerPolicy.ProxyProtocol, [InboundHTTPRoute]) {
        var reader = reader
        var found: ServerPolicy.ProxyProtocol?
        var routes: [InboundHTTPRoute] = []
        while !reader.isAtEnd {
            let (arm, armType) = try reader.key()
            guard armType == 2 else {
                try reader.skip(wireType: armType)
                continue
            }
            var body = try reader.message()
            routes = []
            let routesField: UInt64
            switch arm {
            case 1: found = .detect(timeout: ServerPolicy.ProxyProtocol.defaultDetectTimeout); routesField = 3
            case 2: found = .opaque; routesField = 0
            case 3: found = .tls; routesField = 0
            case 4: found = .http1; routesField = 2
            case 5: found = .http2; routesField = 2
            case 6: found = .grpc; routesField = 2
            default: continue
            }
            while !body.isAtEnd {
                let (field, wireType) = try body.key()
                switch (field, wireType) {
                case (1, 2) where arm == 1:
                    found = .detect(timeout: try detectTimeout(try body.message()))
                case (routesField, 2) where routesField != 0:
                    guard routes.count < limit else { throw ProtobufDecodingError("more than \(limit) routes") }
                    guard arm != 6 else { throw ProtobufDecodingError("gRPC routes on an inbound port are not enforced by this proxy") }
                    routes.append(try httpRoute(try body.message()))
                default: try body.skip(wireType: wireType)
                }
            }
        }
        guard let found else { throw ProtobufDecodingError("a Server without a protocol") }
        return (found, routes)
    }

    /// `HttpRoute { Metadata metadata = 1; repeated HostMatch hosts = 2; repeated Authz
    /// authorizations = 3; repeated Rule rules = 4; }`, `Rule { repeated HttpRouteMatch matches
    /// = 1; repeated Filter filters = 2; }`: the paths of every rule's matches (a rule without
    /// matches, or a match without a path, takes every path).
    private static func httpRoute(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> InboundHTTPRoute {
        var reader = reader
        var route = InboundHTTPRoute(metadata: .default("default"), pathMatches: [])
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
                        route.pathMatches.append(try pathOfMatch(try rule.message()))
                    case (2, 2): throw ProtobufDecodingError("inbound route filters are not applied by this proxy")
                    default: try rule.skip(wireType: partType)
                    }
                }
                if !matched { route.pathMatches.append(.prefix("/")) }
            default: try reader.skip(wireType: wireType)
            }
        }
        return route
    }

    /// `HttpRouteMatch { PathMatch path = 1; repeated HeaderMatch headers = 2; repeated
    /// QueryParamMatch query_params = 3; HttpMethod method = 4; }`, `PathMatch { oneof kind {
    /// string exact = 1; string prefix = 2; string regex = 3; } }`.
    private static func pathOfMatch(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> InboundHTTPRoute.PathMatch {
        var reader = reader
        var path = InboundHTTPRoute.PathMatch.prefix("/")
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            switch (field, wireType) {
            case (1, 2):
                var kind = try reader.message()
                while !kind.isAtEnd {
                    let (arm, armType) = try kind.key()
                    switch (arm, armType) {
                    case (1, 2): path = .exact(try kind.string())
                    case (2, 2): path = .prefix(try kind.string())
                    case (3, 2): throw ProtobufDecodingError("inbound regex path matches are not enforced by this proxy")
                    default: try kind.skip(wireType: armType)
                    }
                }
            case (2, _), (3, _), (4, _):
                throw ProtobufDecodingError("inbound route matches on headers, query parameters or methods are not enforced by this proxy")
            default: try reader.skip(wireType: wireType)
            }
        }
        return path
    }

    /// The detect timeout: `Duration { int64 seconds = 1; int32 nanos = 2; }`, at most a day.
    private static func detectTimeout(_ reader: ProtobufReader) throws(ProtobufDecodingError) -> Duration {
        var duration = reader
        var (seconds, nanos): (Int64, Int64) = (0, 0)
        while !duration.isAtEnd {
            let (part, partType) = try duration.key()
            switch (part, partType) {
            case (1, 0): seconds = Int64(bitPattern: try duration.varint())
            case (2, 0): nanos = Int64(Int32(truncatingIfNeeded: try duration.varint()))
            default: try duration.skip(wireType: partType)
            }
        }
        guard seconds >= 0, seconds <= 86_400, nanos >= 0, nanos < 1_000_000_000 else {
            throw ProtobufDecodingError("a detect timeout of \(seconds) s \(nanos) ns")
        }
        return .seconds(seconds) + .nanoseconds(nanos)
    }
}
