import Foundation
import SwiftProtobuf
import Testing
import WeftAPI
import WeftPolicy
@testable import WeftProxy

/// A ServiceProfile's routes as the proxy reads them from `DestinationProfile` bytes: conditions,
/// names, response classes; what it cannot use refused whole.
@Suite("Profile routes on the wire")
struct ProfileWireTests {
    typealias Match = Io_Linkerd_Proxy_Destination_RequestMatch

    static func path(_ regex: String) -> Match { .with { $0.path = .with { $0.regex = regex } } }
    static func method(_ registered: Io_Linkerd_Proxy_HttpTypes_HttpMethod.Registered) -> Match {
        .with { $0.method = .with { $0.registered = registered } }
    }

    static func profile(_ routes: [Io_Linkerd_Proxy_Destination_Route]) throws -> [UInt8] {
        try Io_Linkerd_Proxy_Destination_DestinationProfile.with { $0.routes = routes }.serializedBytes()
    }

    @Test func conditionsNamesAndResponseClassesAreRead() throws {
        let books = Io_Linkerd_Proxy_Destination_Route.with {
            $0.condition = .with { $0.all = .with { $0.matches = [Self.method(.get), Self.path("/books/[0-9]+")] } }
            $0.metricsLabels = ["route": "GET /books/{id}"]
            $0.responseClasses = [.with {
                $0.condition = .with { $0.not = .with { $0.status = .with { $0.min = 200; $0.max = 399 } } }
                $0.isFailure = true
            }]
        }
        let other = Io_Linkerd_Proxy_Destination_Route.with {
            $0.condition = .with { $0.any = .with { $0.matches = [Self.method(.post), .with { $0.not = Self.path("/.*") }] } }
            $0.metricsLabels = ["route": "writes"]
        }
        let routes = try ProfileWire.routes(try Self.profile([books, other]))
        #expect(routes.routes.map(\.name) == ["GET /books/{id}", "writes"])
        #expect(routes.route(for: FakeRequest("GET", "/books/12")) == 0)
        #expect(routes.route(for: FakeRequest("POST", "/books/12")) == 1)
        #expect(routes.route(for: FakeRequest("GET", "/authors")) == nil)
        let route = routes.routes[0]
        #expect(route.failed(status: 404, grpcStatus: nil))        // not in 200-399: a failure
        #expect(!route.failed(status: 200, grpcStatus: nil))
        #expect(routes.routes[1].failed(status: 503, grpcStatus: nil))   // Linkerd's default: 5xx
        #expect(routes.routes[1].failed(status: 200, grpcStatus: 14))    // and a gRPC error
    }

    @Test func retriesTimeoutsAndTheBudgetAreRead() throws {
        var profile = Io_Linkerd_Proxy_Destination_DestinationProfile.with {
            $0.routes = [.with {
                $0.condition = Self.path("/books/.*")
                $0.metricsLabels = ["route": "books"]
                $0.isRetryable = true
                $0.timeout = .init(seconds: 0, nanos: 300_000_000)
                $0.responseClasses = [.with { $0.condition = .with { $0.status = .with { $0.min = 500; $0.max = 503 } }; $0.isFailure = true }]
            }]
            $0.retryBudget = .with { $0.retryRatio = 0.5; $0.minRetriesPerSecond = 3; $0.ttl = .init(seconds: 2) }
        }
        let routes = try ProfileWire.routes(try profile.serializedBytes())
        #expect(routes.budget == RetryBudget.Settings(ratio: 0.5, minimumPerSecond: 3, ttl: .seconds(2)))
        let route = routes.routes[0]
        #expect(route.isRetryable && route.timeout == .milliseconds(300))
        #expect(route.retry?.retries(status: 503, grpcStatus: nil) == true)
        #expect(route.retry?.retries(status: 504, grpcStatus: nil) == true)   // no class takes it: 5xx fails by default
        #expect(route.retry?.retries(status: 200, grpcStatus: nil) == false)
        profile.retryBudget.retryRatio = .infinity
        #expect(throws: RoutePolicyError.self) { try ProfileWire.routes(try profile.serializedBytes()) }
    }

    @Test func unusableRoutesAreRefusedWhole() throws {
        let nested = Io_Linkerd_Proxy_Destination_Route.with { $0.condition = Self.path("(a+)+$") }
        #expect(throws: RoutePolicyError.self) { try ProfileWire.routes(try Self.profile([nested])) }
        var deep = Self.path("/x")
        for _ in 0..<20 { deep = .with { [deep] in $0.not = deep } }
        #expect(throws: RoutePolicyError.self) { try ProfileWire.routes(try Self.profile([.with { $0.condition = deep }])) }
        #expect(throws: RoutePolicyError.self) { try ProfileWire.routes(try Self.profile([.with { $0.condition = Match() }])) }
        let bytes = try Self.profile([.with { $0.condition = Self.path("/books") }])
        for length in 0..<bytes.count { _ = try? ProfileWire.routes(Array(bytes[..<length])) }
    }
}

/// A request as route matching sees it, written out.
struct FakeRequest: RoutableRequest {
    let method: String
    let path: Substring
    var query: Substring? { nil }
    var host: Substring? { nil }
    var port: UInt16? { nil }

    init(_ method: String, _ path: String) {
        self.method = method
        self.path = path[...]
    }

    func containsHeader(_ name: String, where predicate: (Substring) -> Bool) -> Bool { false }
}
