import Foundation
import SwiftProtobuf
import Testing
import WeftAPI
import WeftCore
@testable import WeftController
import WeftPolicy
@testable import WeftProxy

/// Retries and timeouts cross from the controller's encoding to the proxy's decoder intact; a
/// retry the proxy cannot honour refuses the policy whole.
@Suite("Retries and timeouts across the planes")
struct RetryPolicyWireTests {
    static func policy(retry: RetryPolicy, timeouts: ClientPolicy.Timeouts?, grpc: Bool) -> ClientPolicy {
        let parent = ResourceReference(group: "core", kind: "Service", name: "web", namespace: "shop", port: 80)
        let backend = ClientPolicy.Backend(metadata: parent, discoveryPath: "web.shop.svc.cluster.local:80")
        if grpc {
            return ClientPolicy(parent: parent, proxyProtocol: .grpc(routes: [.init(metadata: .default("grpc"), rules: [
                .init(matches: [GRPCRouteMatch(service: "pkg.Svc")], backends: .firstAvailable([backend]), retry: retry, timeouts: timeouts),
            ])]))
        }
        return ClientPolicy(parent: parent, proxyProtocol: .detect(timeout: .seconds(10), httpRoutes: [.init(metadata: .default("http"), rules: [
            .init(matches: [HTTPRouteMatch(path: .prefix("/"))], backends: .firstAvailable([backend]), retry: retry, timeouts: timeouts),
        ])], opaqueRoutes: []))
    }

    @Test func httpRetryAndTimeoutsCrossIntact() throws {
        let retry = RetryPolicy(limit: 3, conditions: .http([500...599, 429...429]), perAttemptTimeout: .milliseconds(300))
        var policy = Self.policy(retry: retry, timeouts: .init(request: .seconds(2), response: .seconds(1), idle: .seconds(30)), grpc: false)
        policy.failureAccrual = .init(maximumFailures: 5, minimumPenalty: .milliseconds(500), maximumPenalty: .seconds(30), jitterRatio: 0.25)
        #expect(try OutboundPolicyWire.decode(try policy.protobuf.serializedBytes()) == policy)
    }

    @Test func grpcRetryCrossesIntact() throws {
        let retry = RetryPolicy(limit: 2, conditions: .grpc(codes: RetryPolicy.grpcCodes([1, 4, 8, 13, 14])))
        var policy = Self.policy(retry: retry, timeouts: .init(request: .milliseconds(1500)), grpc: true)
        policy.failureAccrual = .init(maximumFailures: 7, minimumPenalty: .seconds(1), maximumPenalty: .seconds(60), jitterRatio: 0)
        #expect(try OutboundPolicyWire.decode(try policy.protobuf.serializedBytes()) == policy)
    }

    @Test func deprecatedRequestTimeoutStillReads() throws {
        var message = Self.policy(retry: RetryPolicy(limit: 1, conditions: .http([])), timeouts: nil, grpc: false).protobuf
        message.protocol.detect.http1.routes[0].rules[0].requestTimeout = .init(seconds: 3)
        let decoded = try OutboundPolicyWire.decode(try message.serializedBytes())
        guard case .detect(_, let routes, _) = decoded.proxyProtocol else { Issue.record("not detect"); return }
        #expect(routes[0].rules[0].timeouts?.request == .seconds(3))
    }

    @Test func unusableRetriesAreRefused() throws {
        func decoding(_ edit: (inout Io_Linkerd_Proxy_Outbound_HttpRoute.Retry) -> Void) throws -> [UInt8] {
            var message = Self.policy(retry: RetryPolicy(limit: 1, conditions: .http([500...599])), timeouts: nil, grpc: false).protobuf
            edit(&message.protocol.detect.http1.routes[0].rules[0].retry)
            return try message.serializedBytes()
        }
        #expect(throws: RoutePolicyError.self) { try OutboundPolicyWire.decode(try decoding { $0.maxRetries = 1_000 }) }
        #expect(throws: RoutePolicyError.self) {
            try OutboundPolicyWire.decode(try decoding { $0.conditions.statusRanges = [.with { $0.start = 504; $0.end = 500 }] })
        }
        #expect(throws: RoutePolicyError.self) {
            try OutboundPolicyWire.decode(try decoding { $0.timeout = .init(seconds: 90_000) })
        }
        // A body limit above 64 KiB is lowered to it.
        let big = try OutboundPolicyWire.decode(try decoding { $0.maxRequestBytes = 10_000_000 })
        guard case .detect(_, let routes, _) = big.proxyProtocol else { return }
        #expect(routes[0].rules[0].retry?.maximumRequestBytes == RetryPolicy.defaultMaximumRequestBytes)
    }

    @Test func attemptsKeepTheBodyUpToTheLimitAndDecide() {
        var random = LoopRandom()
        let policy = RetryPolicy(limit: 2, conditions: .http([500...599]), maximumRequestBytes: 10)
        var attempts = RequestAttempts<Int>(policy: policy, method: "POST", parts: [0, 4], measure: { ($0, false) })
        #expect(attempts.judge(status: 503, grpcStatus: nil, using: &random) == .overflow)  // not ended yet
        attempts.keep(4, (4, true))
        #expect(attempts.replay == [0, 4, 4])
        guard case .retry(let first) = attempts.judge(status: 503, grpcStatus: nil, using: &random) else { Issue.record("no retry"); return }
        #expect(first >= .milliseconds(12) && first <= .milliseconds(25))
        #expect(attempts.judge(status: 404, grpcStatus: nil, using: &random) == .deliver)
        #expect(attempts.judgeLost(timedOut: false, using: &random) == .deliver)  // POST, lost: not retried
        guard case .retry(let second) = attempts.judge(status: 500, grpcStatus: nil, using: &random) else { Issue.record("no retry"); return }
        #expect(second >= .milliseconds(25) && second <= .milliseconds(50))
        #expect(attempts.judge(status: 500, grpcStatus: nil, using: &random) == .limitExceeded)

        var long = RequestAttempts<Int>(policy: policy, method: "GET", parts: [0], measure: { ($0, false) })
        long.keep(11, (11, true))
        #expect(long.replay.isEmpty)
        #expect(long.judge(status: 503, grpcStatus: nil, using: &random) == .overflow)

        var get = RequestAttempts<Int>(policy: policy, method: "GET", parts: [0], measure: { ($0, true) })
        if case .retry = get.judgeLost(timedOut: false, using: &random) {} else { Issue.record("an idempotent lost attempt is retried") }
        let grpc = RetryPolicy(limit: 1, conditions: .grpc(codes: RetryPolicy.grpcCodes([14])))
        #expect(grpc.retries(status: 200, grpcStatus: 14))
        #expect(!grpc.retries(status: 200, grpcStatus: 13))
        #expect(!grpc.retries(status: 200, grpcStatus: nil))
    }

    @Test func annotationsAreReadAndBadValuesNamed() {
        let (good, none) = TrafficAnnotations.read([
            "retry.linkerd.io/http": "5xx, gateway-error,429,500-504", "retry.linkerd.io/limit": "3",
            "retry.linkerd.io/timeout": "300ms", "timeout.linkerd.io/request": "2s",
        ])
        #expect(none.isEmpty)
        #expect(good.retry?.httpStatuses == [500...599, 502...504, 429...429, 500...504])
        #expect(good.retry?.limit == 3)
        #expect(good.retry?.timeout?.nanoseconds == 300_000_000)
        #expect(good.requestTimeout?.nanoseconds == 2_000_000_000)
        let (_, problems) = TrafficAnnotations.read([
            "retry.linkerd.io/limit": "-1", "timeout.linkerd.io/request": "1.5", "retry.linkerd.io/grpc": "unavailable,bogus",
            "retry.linkerd.io/http": "600",
        ])
        let byKey = Dictionary(problems.map { ($0.key, $0.problem) }, uniquingKeysWith: { a, _ in a })
        #expect(byKey["retry.linkerd.io/limit"]?.contains("whole number from 0 to 10") == true)
        #expect(byKey["timeout.linkerd.io/request"]?.contains("missing a unit") == true)
        #expect(byKey["retry.linkerd.io/grpc"]?.contains("\"bogus\"") == true)
        #expect(byKey["retry.linkerd.io/http"]?.contains("\"600\"") == true)
    }
}
