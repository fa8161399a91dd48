import SwiftProtobuf
import WeftAPI
import WeftPolicy

extension RetryPolicy {
    /// As an HTTP route rule's `Retry`: status ranges (gRPC conditions become none).
    var httpProtobuf: Io_Linkerd_Proxy_Outbound_HttpRoute.Retry {
        .with {
            $0.maxRetries = limit
            $0.maxRequestBytes = UInt32(clamping: maximumRequestBytes)
            if case .http(let ranges) = conditions {
                $0.conditions.statusRanges = ranges.map { range in .with { $0.start = UInt32(range.lowerBound); $0.end = UInt32(range.upperBound) } }
            } else {
                $0.conditions = .init()
            }
            if let perAttemptTimeout { $0.timeout = .init(perAttemptTimeout) }
            $0.backoff = backoffProtobuf
        }
    }

    /// As a gRPC route rule's `Retry`: one flag per status Linkerd retries.
    var grpcProtobuf: Io_Linkerd_Proxy_Outbound_GrpcRoute.Retry {
        .with {
            $0.maxRetries = limit
            $0.maxRequestBytes = UInt32(clamping: maximumRequestBytes)
            var codes: UInt32 = 0
            if case .grpc(let set) = conditions { codes = set }
            $0.conditions = .with {
                $0.cancelled = codes & (1 << 1) != 0
                $0.deadineExceeded = codes & (1 << 4) != 0
                $0.resourceExhausted = codes & (1 << 8) != 0
                $0.internal = codes & (1 << 13) != 0
                $0.unavailable = codes & (1 << 14) != 0
            }
            if let perAttemptTimeout { $0.timeout = .init(perAttemptTimeout) }
            $0.backoff = backoffProtobuf
        }
    }

    private var backoffProtobuf: Io_Linkerd_Proxy_Outbound_ExponentialBackoff {
        .with {
            $0.minBackoff = .init(minimumBackoff)
            $0.maxBackoff = .init(maximumBackoff)
            $0.jitterRatio = 0.5
        }
    }
}

/// Route rules that carry timeouts: both the `timeouts` message and, for proxies older than it,
/// the deprecated `requestTimeout`.
protocol TimeoutsCarrying {
    var requestTimeout: Google_Protobuf_Duration { get set }
    var timeouts: Io_Linkerd_Proxy_HttpRoute_Timeouts { get set }
}

extension TimeoutsCarrying {
    mutating func setTimeouts(_ value: ClientPolicy.Timeouts) {
        if let request = value.request { requestTimeout = .init(request) }
        timeouts = .with { message in
            if let request = value.request { message.request = .init(request) }
            if let response = value.response { message.response = .init(response) }
            if let idle = value.idle { message.idle = .init(idle) }
        }
    }
}

extension Io_Linkerd_Proxy_Outbound_HttpRoute.Rule: TimeoutsCarrying {}
extension Io_Linkerd_Proxy_Outbound_GrpcRoute.Rule: TimeoutsCarrying {}

extension ClientPolicy.FailureAccrual {
    var protobuf: Io_Linkerd_Proxy_Outbound_FailureAccrual {
        .with {
            $0.consecutiveFailures = .with {
                $0.maxFailures = maximumFailures
                $0.backoff = .with {
                    $0.minBackoff = .init(minimumPenalty)
                    $0.maxBackoff = .init(maximumPenalty)
                    $0.jitterRatio = Float(jitterRatio)
                }
            }
        }
    }
}
