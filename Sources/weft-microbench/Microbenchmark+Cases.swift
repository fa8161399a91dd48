import NIOCore
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
            var random = SystemRandomNumberGenerator()
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
            var random = SystemRandomNumberGenerator()
            return {
                guard distribution.draw(using: &random) != nil else { fatalError("weighted-draw: nothing drawn") }
            }
        }
    }
}
