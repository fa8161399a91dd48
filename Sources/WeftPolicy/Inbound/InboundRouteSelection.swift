/// Which of a port's inbound routes takes a request: the routes' matches as outbound route
/// candidates (``RouteCandidates``: trivial values scanned by bytes, no reference counting per
/// candidate), so 50 routes cost what a 50-rule outbound table costs. Not `Sendable` (compiled
/// matches): built on the event loop that uses it.
struct InboundRouteSelection {
    private enum Table {
        case http([ClientPolicy.HTTPRoute])
        case grpc([ClientPolicy.GRPCRoute])
    }

    private let table: Table
    private let candidates: RouteCandidates

    /// `grpc`: the port is a gRPC port (routes match service and method).
    init(_ routes: [InboundHTTPRoute], grpc: Bool) {
        if grpc {
            let table = routes.map { Self.route($0.matches.compactMap(\.grpcMatch)) }
            self.table = .grpc(table)
            candidates = RouteCandidates(grpc: table)
        } else {
            let table = routes.map { Self.route($0.matches.compactMap(\.httpMatch)) }
            self.table = .http(table)
            candidates = RouteCandidates(http: table)
        }
    }

    /// One route of one rule with `matches`; with none left (every match a regular
    /// expression), no rule at all: an empty rule would match everything.
    private static func route<Match>(_ matches: [Match]) -> ClientPolicy.Route<Match> {
        ClientPolicy.Route(metadata: .default(""), rules: matches.isEmpty ? [] : [.init(matches: matches, backends: .firstAvailable([]))])
    }

    func route<Request: RoutableRequest>(_ request: Request) -> Int? {
        switch table {
        case .http(let routes):
            candidates.best(request) { routes[Int($0.route)].rules[Int($0.rule)].matches[Int($0.match)].score(request) != nil }.map { Int($0.route) }
        case .grpc(let routes):
            candidates.best(request) { routes[Int($0.route)].rules[Int($0.rule)].matches[Int($0.match)].score(request) != nil }.map { Int($0.route) }
        }
    }
}
