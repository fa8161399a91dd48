import WeftCore
import WeftPolicy

/// A route rule's retry policy and timeouts (`Rule { Duration requestTimeout = 4; Timeouts
/// timeouts = 5; Retry retry = 6; }`). A retry asking for more than
/// ``RetryPolicy/maximumLimit`` retries or an impossible status range refuses the whole policy;
/// a body limit above Linkerd's 64 KiB is lowered to it (the proxy buffers no more).
extension OutboundPolicyWire {
    /// `Timeouts { Duration response = 1; Duration request = 2; Duration idle = 3; }`.
    static func timeouts(_ message: ProtobufReader, into timeouts: inout ClientPolicy.Timeouts) throws {
        var reader = message
        try reader.fields { field, reader in
            switch field {
            case 1: timeouts.response = try duration(try reader.message())
            case 2: timeouts.request = try duration(try reader.message())
            case 3: timeouts.idle = try duration(try reader.message())
            default: return false
            }
            return true
        }
    }

    /// `Retry { uint32 max_retries = 1; uint32 max_request_bytes = 2; Conditions conditions = 3;
    /// Duration timeout = 4; ExponentialBackoff backoff = 5; }`; HTTP conditions are status
    /// ranges, gRPC ones a flag per status (field number = code).
    static func retry(_ message: ProtobufReader, isGRPC: Bool) throws -> RetryPolicy {
        var reader = message
        var retry = RetryPolicy(limit: 0, conditions: isGRPC ? .grpc(codes: 0) : .http([]))
        try reader.fields { field, reader in
            switch field {
            case 1:
                let limit = try reader.varint()
                guard limit <= UInt64(RetryPolicy.maximumLimit) else {
                    throw RoutePolicyError("a retry limit of \(limit), more than \(RetryPolicy.maximumLimit)")
                }
                retry.limit = UInt32(limit)
            case 2:
                let bytes = try reader.varint()
                if bytes > 0 { retry.maximumRequestBytes = Int(min(bytes, UInt64(RetryPolicy.defaultMaximumRequestBytes))) }
            case 3: retry.conditions = isGRPC ? try grpcConditions(try reader.message()) : try httpConditions(try reader.message())
            case 4: retry.perAttemptTimeout = try duration(try reader.message())
            case 5:
                var backoff = try reader.message()
                try backoff.fields { part, backoff in
                    switch part {
                    case 1: retry.minimumBackoff = try duration(try backoff.message())
                    case 2: retry.maximumBackoff = try duration(try backoff.message())
                    default: return false
                    }
                    return true
                }
            default: return false
            }
            return true
        }
        retry.maximumBackoff = max(min(retry.maximumBackoff, .seconds(60)), retry.minimumBackoff)
        return retry
    }

    private static func httpConditions(_ message: ProtobufReader) throws -> RetryPolicy.Conditions {
        var reader = message
        var ranges: [ClosedRange<UInt16>] = []
        try reader.fields { field, reader in
            guard field == 1 else { return false }
            var range = try reader.message()
            var (start, end): (UInt64, UInt64) = (0, 0)
            try range.fields { part, range in
                switch part {
                case 1: start = try range.varint()
                case 2: end = try range.varint()
                default: return false
                }
                return true
            }
            guard (100...599).contains(start), (start...599).contains(end), ranges.count < 64 else {
                throw RoutePolicyError("a retry status range \(start)-\(end)")
            }
            ranges.append(UInt16(start)...UInt16(end))
            return true
        }
        return .http(ranges)
    }

    private static func grpcConditions(_ message: ProtobufReader) throws -> RetryPolicy.Conditions {
        var reader = message
        var codes: UInt32 = 0
        try reader.fields { field, reader in
            guard field < 32 else { return false }
            if try reader.varint() != 0 { codes |= 1 << UInt32(field) }
            return true
        }
        return .grpc(codes: codes)
    }

    /// The failure accrual of `Http1/Http2/Grpc { …; FailureAccrual failure_accrual = 2; }`:
    /// `FailureAccrual { oneof kind { ConsecutiveFailures consecutive_failures = 1; } }`,
    /// `ConsecutiveFailures { uint32 max_failures = 1; ExponentialBackoff backoff = 2; }`.
    static func failureAccrual(in message: ProtobufReader) throws -> ClientPolicy.FailureAccrual? {
        var reader = message
        var found: ClientPolicy.FailureAccrual?
        try reader.fields { field, reader in
            guard field == 2 else { return false }
            var accrual = try reader.message()
            try accrual.fields { kind, accrual in
                guard kind == 1 else { return false }
                var consecutive = try accrual.message()
                var value = ClientPolicy.FailureAccrual(maximumFailures: 7, minimumPenalty: .seconds(1), maximumPenalty: .seconds(60), jitterRatio: 0.5)
                try consecutive.fields { part, consecutive in
                    switch part {
                    case 1:
                        let failures = try consecutive.varint()
                        guard (1...1_000).contains(failures) else { throw RoutePolicyError("failure accrual after \(failures) failures") }
                        value.maximumFailures = UInt32(failures)
                    case 2:
                        var backoff = try consecutive.message()
                        value.jitterRatio = 0  // proto3: an absent ratio is 0
                        try backoff.fields { item, backoff in
                            switch item {
                            case 1: value.minimumPenalty = try duration(try backoff.message())
                            case 2: value.maximumPenalty = try duration(try backoff.message())
                            case 3:
                                let ratio = Double(Float(bitPattern: try backoff.fixed32()))
                                guard ratio.isFinite, (0...100).contains(ratio) else { throw RoutePolicyError("a jitter ratio of \(ratio)") }
                                value.jitterRatio = ratio
                            default: return false
                            }
                            return true
                        }
                    default: return false
                    }
                    return true
                }
                value.maximumPenalty = max(value.maximumPenalty, value.minimumPenalty)
                found = value
                return true
            }
            return true
        }
        return found
    }
}
