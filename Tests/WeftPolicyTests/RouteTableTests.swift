import Testing
import WeftPolicy

/// A request as route matching sees it, written out.
struct FakeRequest: RoutableRequest {
    var method = "GET"
    var path: Substring = "/"
    var query: Substring? = nil
    var host: Substring? = nil
    var port: UInt16? = nil
    var headers: [(String, String)] = []

    init(_ target: String) {
        self.init("GET", target)
    }

    init(_ method: String, _ target: String, host: Substring? = nil, headers: [(String, String)] = []) {
        self.method = method
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = parts[0]
        query = parts.count > 1 ? parts[1] : nil
        self.host = host
        self.headers = headers
    }

    func containsHeader(_ name: String, where predicate: (Substring) -> Bool) -> Bool {
        headers.contains { $0.0.lowercased() == name && predicate($0.1[...]) }
    }
}

@Suite("Route selection")
struct RouteTableTests {
    static let parent = ResourceReference(group: "core", kind: "Service", name: "web", namespace: "shop", port: 80)

    static func backend(_ name: String) -> ClientPolicy.Distribution {
        .firstAvailable([ClientPolicy.Backend(metadata: ResourceReference(group: "core", kind: "Service", name: name, namespace: "shop"),
                                              discoveryPath: "\(name).shop.svc.cluster.local:80")])
    }

    static func table(_ routes: [ClientPolicy.HTTPRoute]) throws -> RouteTable {
        try #require(try RouteTable(ClientPolicy(parent: parent, proxyProtocol: .detect(timeout: .seconds(10), httpRoutes: routes, opaqueRoutes: []))))
    }

    static func route(_ name: String, hosts: [HostMatch] = [], _ rules: [ClientPolicy.HTTPRule]) -> ClientPolicy.HTTPRoute {
        ClientPolicy.HTTPRoute(metadata: .resource(ResourceReference(group: "policy.linkerd.io", kind: "HTTPRoute", name: name, namespace: "shop")),
                               hosts: hosts, rules: rules)
    }

    static func chosen(_ table: RouteTable, _ request: FakeRequest) -> String? {
        guard let selection = table.select(request), case .firstAvailable(let backends) = selection.backends else { return nil }
        return backends.first?.metadata.name
    }

    @Test func precedenceIsExactThenLongestPrefixThenMethodThenHeadersThenQuery() throws {
        let table = try Self.table([Self.route("r", [
            .init(matches: [HTTPRouteMatch(path: .prefix("/"))], backends: Self.backend("root")),
            .init(matches: [HTTPRouteMatch(path: .prefix("/api"))], backends: Self.backend("api")),
            .init(matches: [HTTPRouteMatch(path: .prefix("/api/v1"))], backends: Self.backend("v1")),
            .init(matches: [HTTPRouteMatch(path: .exact("/api/v1/x"))], backends: Self.backend("exact")),
            .init(matches: [HTTPRouteMatch(path: .prefix("/api"), method: "POST")], backends: Self.backend("post")),
            .init(matches: [HTTPRouteMatch(path: .prefix("/api"), headers: [HeaderMatch(name: "X-Canary", value: .exact("1"))])],
                  backends: Self.backend("canary")),
            .init(matches: [HTTPRouteMatch(path: .prefix("/api"), queryParams: [QueryParamMatch(name: "v", value: .exact("2"))])],
                  backends: Self.backend("query")),
        ])])
        #expect(Self.chosen(table, FakeRequest("/")) == "root")
        #expect(Self.chosen(table, FakeRequest("/apiary")) == "root")
        #expect(Self.chosen(table, FakeRequest("/api")) == "api")
        #expect(Self.chosen(table, FakeRequest("/api/v1/y")) == "v1")
        #expect(Self.chosen(table, FakeRequest("/api/v1/x")) == "exact")
        #expect(Self.chosen(table, FakeRequest("POST", "/api/z", headers: [("x-canary", "1")])) == "post")
        #expect(Self.chosen(table, FakeRequest("GET", "/api/z", headers: [("X-CANARY", "1")])) == "canary")
        #expect(Self.chosen(table, FakeRequest("GET", "/api/z?a=1&v=2")) == "query")
        #expect(Self.chosen(table, FakeRequest("GET", "/api/z?v=3")) == "api")
    }

    @Test func aTieGoesToTheEarlierRouteAndNoMatchIsNil() throws {
        let table = try Self.table([
            Self.route("first", [.init(matches: [HTTPRouteMatch(path: .prefix("/a"))], backends: Self.backend("first"))]),
            Self.route("second", [.init(matches: [HTTPRouteMatch(path: .prefix("/a"))], backends: Self.backend("second"))]),
        ])
        #expect(Self.chosen(table, FakeRequest("/a/b")) == "first")
        #expect(table.select(FakeRequest("/b")) == nil)
    }

    @Test func hostsNarrowRoutesAndTheMostSpecificHostWins() throws {
        let table = try Self.table([
            Self.route("any", [.init(matches: [], backends: Self.backend("any"))]),
            Self.route("suffix", hosts: [.suffix("example.com")], [.init(matches: [], backends: Self.backend("suffix"))]),
            Self.route("exact", hosts: [.exact("a.example.com")], [.init(matches: [], backends: Self.backend("exact"))]),
        ])
        #expect(Self.chosen(table, FakeRequest("GET", "/", host: "a.example.com")) == "exact")
        #expect(Self.chosen(table, FakeRequest("GET", "/", host: "b.example.com")) == "suffix")
        #expect(Self.chosen(table, FakeRequest("GET", "/", host: "example.com")) == "any")
        #expect(Self.chosen(table, FakeRequest("/")) == "any")
    }

    @Test func regexMatchesTheWholeValue() throws {
        let table = try Self.table([Self.route("r", [
            .init(matches: [HTTPRouteMatch(path: .regex(try RoutePattern("/items/[0-9]+")))], backends: Self.backend("items")),
        ])])
        #expect(Self.chosen(table, FakeRequest("/items/42")) == "items")
        #expect(table.select(FakeRequest("/items/42/x")) == nil)
        #expect(throws: RoutePolicyError.self) { try RoutePattern("(a+)+$") }
        #expect(throws: RoutePolicyError.self) { try RoutePattern("(unclosed") }
    }

    @Test func grpcMatchesServiceThenMethodThenHeaders() throws {
        func rule(_ match: GRPCRouteMatch, _ name: String) -> ClientPolicy.Rule<GRPCRouteMatch> {
            .init(matches: [match], backends: Self.backend(name))
        }
        let routes = [ClientPolicy.GRPCRoute(metadata: .default("grpc"), rules: [
            rule(GRPCRouteMatch(service: "pkg.Svc"), "service"),
            rule(GRPCRouteMatch(service: "pkg.Svc", method: "List"), "list"),
            rule(GRPCRouteMatch(service: "pkg.Svc", method: "Vote", headers: [HeaderMatch(name: "x-b", value: .exact("1"))]), "header"),
        ])]
        let table = try #require(try RouteTable(ClientPolicy(parent: Self.parent, proxyProtocol: .grpc(routes: routes))))
        #expect(Self.chosen(table, FakeRequest("POST", "/pkg.Svc/List")) == "list")
        #expect(Self.chosen(table, FakeRequest("POST", "/pkg.Svc/Vote")) == "service")
        #expect(Self.chosen(table, FakeRequest("POST", "/pkg.Svc/Vote", headers: [("x-b", "1")])) == "header")
        #expect(table.select(FakeRequest("POST", "/other.Svc/List")) == nil)
    }

    @Test func limitsRefuseAPolicyWhole() throws {
        let many = (0..<1_001).map { _ in ClientPolicy.HTTPRule(matches: [], backends: Self.backend("x")) }
        #expect(throws: RoutePolicyError.self) { try Self.table([Self.route("big", many)]) }
        let bigValue = String(repeating: "v", count: 9 * 1024)
        let modifier = try HeaderModifier(add: [Header(name: "x-big", value: bigValue)])
        let rules = (0..<2).map { _ in ClientPolicy.HTTPRule(matches: [], filters: [.requestHeaders(modifier)], backends: Self.backend("x")) }
        #expect(throws: RoutePolicyError.self) { try Self.table([Self.route("headers", rules)]) }
        #expect(throws: RoutePolicyError.self) { try HeaderModifier(set: [Header(name: "x-a", value: "1\r\nx-b: 2")]) }
        #expect(throws: RoutePolicyError.self) { try HeaderModifier(add: [Header(name: "bad name", value: "1")]) }
    }

    @Test func redirectsBuildTheirLocation() throws {
        let prefix = try RequestRedirect(path: .prefix("/new"), status: 301)
        #expect(prefix.location(scheme: "http", host: "web", port: 8080, path: "/old/page", query: "q=1", matchedPrefix: "/old")
                == "http://web:8080/new/page?q=1")
        let https = try RequestRedirect(scheme: "https", host: "secure.example.com", status: 302)
        #expect(https.location(scheme: "http", host: "web", port: 8080, path: "/a", query: nil, matchedPrefix: nil)
                == "https://secure.example.com/a")
        #expect(throws: RoutePolicyError.self) { try RequestRedirect(status: 200) }
    }

    @Test func aWeightedDistributionDrawsByWeight() {
        let distribution = ClientPolicy.Distribution.randomAvailable([
            .init(backend: ClientPolicy.Backend(metadata: Self.parent, discoveryPath: "a:80"), weight: 3),
            .init(backend: ClientPolicy.Backend(metadata: Self.parent, discoveryPath: "b:80"), weight: 1),
            .init(backend: ClientPolicy.Backend(metadata: Self.parent, discoveryPath: "never:80"), weight: 0),
        ])
        var random = SystemRandomNumberGenerator()
        var counts: [String: Int] = [:]
        for _ in 0..<4_000 { counts[distribution.choose(using: &random)!.discoveryPath, default: 0] += 1 }
        #expect(counts["never:80"] == nil)
        #expect((2_700...3_300).contains(counts["a:80"] ?? 0))
    }
}
