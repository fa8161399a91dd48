import NIOCore
import NIOHPACK
import NIOHTTP1
import WeftPolicy
import WeftProxy
import WeftTesting

extension Microbenchmark {
    /// Every case, in the order they are printed.
    static var all: [Microbenchmark] {
        [
            detection("detect-http1", ByteBuffer(string: "GET /books/1 HTTP/1.1\r\nHost: books.shop.svc.cluster.local\r\n\r\n"), tls: false),
            detection("detect-http2", ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\u{4}\0\0\0\0\0"), tls: false),
            detection("detect-tls", ByteBuffer(bytes: TLSRecords.clientHello(serverName: "books.shop.serviceaccount.identity.linkerd.cluster.local")), tls: true),
            balancerPick(endpoints: 2),
            balancerPick(endpoints: 10),
            weightedDraw(backends: 3),
            routeHTTP1(rules: 50),
            routeHTTP2(rules: 50),
            authorizeHTTP1(routes: 50, authorizations: 100),
            authorizeHTTP2(routes: 50, authorizations: 100),
            authorizeFirst(routes: 50, authorizations: 100),
        ]
    }

    /// One connection's protocol detection from its first read.
    static func detection(_ name: String, _ firstRead: ByteBuffer, tls: Bool) -> Microbenchmark {
        Microbenchmark(name: name) {
            {
                var detector = ProtocolDetector(detectsTLS: tls)
                guard case .detected = detector.receive(firstRead) else { fatalError("\(name): not decided on the first read") }
            }
        }
    }

    /// One request's endpoint choice and its load accounting: P2C pick, the pick recorded, the
    /// response's latency folded into the estimate.
    static func balancerPick(endpoints: Int) -> Microbenchmark {
        Microbenchmark(name: "balancer-pick-\(endpoints)") {
            let balancer = PowerOfTwoChoices()
            var random = LoopRandom()
            var now: UInt64 = 1_000_000_000
            var loads = (0..<endpoints).map { _ in EndpointLoad(now: now) }
            return {
                now += 100_000
                guard let chosen = balancer.choose(count: loads.count, now: now, using: &random, load: { loads[$0] }) else {
                    fatalError("balancer-pick: no endpoint chosen")
                }
                loads[chosen].picked(now: now, staleAfter: balancer.probeAfterNanoseconds)
                loads[chosen].finished(rttNanoseconds: 1_000_000, now: now + 1_000_000)
            }
        }
    }

    /// One request's backend drawn by weight (a ServiceProfile's `dstOverrides`).
    static func weightedDraw(backends: Int) -> Microbenchmark {
        Microbenchmark(name: "weighted-draw-\(backends)") {
            let distribution = WeightedDistribution((0..<backends).map { (element: "backend-\($0).shop.svc.cluster.local:80", weight: UInt32(1_000 * ($0 + 1))) })
            var random = LoopRandom()
            return {
                guard distribution.draw(using: &random) != nil else { fatalError("weighted-draw: nothing drawn") }
            }
        }
    }

    /// A route table of `rules` rules like bench/run's: every rule but the last matches a path
    /// prefix and a header the request lacks; the last takes every path.
    static func routeTable(rules: Int) -> RouteTable {
        let backend = ClientPolicy.Backend(metadata: ResourceReference(group: "core", kind: "Service", name: "books", namespace: "bench", port: 8080),
                                           discoveryPath: "books.bench.svc.cluster.local:8080")
        let ruleList = (0..<rules).map { index -> ClientPolicy.HTTPRule in
            let match = index == rules - 1 ? HTTPRouteMatch(path: .prefix("/"))
                : HTTPRouteMatch(path: .prefix("/r\(index)"), headers: [HeaderMatch(name: "x-rule", value: .exact("\(index)"))])
            return ClientPolicy.HTTPRule(matches: [match], backends: .firstAvailable([backend]))
        }
        let route = ClientPolicy.HTTPRoute(metadata: .default("bench"), rules: ruleList)
        let policy = ClientPolicy(parent: backend.metadata, proxyProtocol: .detect(timeout: .seconds(10), httpRoutes: [route], opaqueRoutes: []))
        guard let table = try? RouteTable(policy) else { fatalError("route table refused") }
        return table
    }

    /// One HTTP/1 request's rule and backend under a `rules`-rule table.
    static func routeHTTP1(rules: Int) -> Microbenchmark {
        Microbenchmark(name: "route-http1-\(rules)") {
            let table = routeTable(rules: rules)
            var headers = HTTPHeaders()
            headers.add(name: "host", value: "books.bench.svc.cluster.local:8080")
            headers.add(name: "user-agent", value: "wrk")
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/books/1?page=2", headers: headers)
            var random = LoopRandom()
            return {
                guard let selection = table.select(HTTP1RoutableRequest(head)), selection.backends.choose(using: &random) != nil else {
                    fatalError("route-http1: no rule")
                }
            }
        }
    }

    /// One HTTP/2 request's rule and backend under a `rules`-rule table.
    static func routeHTTP2(rules: Int) -> Microbenchmark {
        Microbenchmark(name: "route-http2-\(rules)") {
            let table = routeTable(rules: rules)
            let headers = HPACKHeaders([(":method", "GET"), (":scheme", "http"), (":authority", "books.bench.svc.cluster.local:8081"),
                                        (":path", "/books/1?page=2"), ("user-agent", "h2load")])
            var random = LoopRandom()
            return {
                guard let selection = table.select(HTTP2RoutableRequest(headers)), selection.backends.choose(using: &random) != nil else {
                    fatalError("route-http2: no rule")
                }
            }
        }
    }
}
