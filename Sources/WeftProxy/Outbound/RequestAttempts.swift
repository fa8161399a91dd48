import NIOCore
import NIOHTTP1
import NIOHTTP2
import WeftPolicy

/// One request's attempts under its rule's ``RetryPolicy``: the request's parts kept for
/// another attempt (their buffers shared with the ones sent, not copied), up to the policy's body
/// limit, and how many retries were made. A value; the forwarders hold it while a request is in
/// flight and drop it once the response starts.
struct RequestAttempts<Part> {
    /// What to do with an attempt's failure.
    enum Decision: Equatable {
        /// Try again after waiting this long.
        case retry(after: Duration)
        /// Let the failure through: the policy does not retry it.
        case deliver
        /// Let it through: the policy would retry, but the limit is spent.
        case limitExceeded
        /// Let it through: the policy would retry, but the request cannot be sent again (its body
        /// outgrew the limit, or it has not ended yet).
        case overflow
    }

    let policy: RetryPolicy
    let method: String
    /// The request's parts so far (the head as the client sent it, before the rule's filters).
    private(set) var replay: [Part] = []
    private var bodyBytes = 0
    /// False once the body outgrew the policy's limit: then the request is sent only once.
    private(set) var replayable = true
    private(set) var requestEnded = false
    private(set) var retries: UInt32 = 0

    /// - Parameter first: kept instead of the first of `parts` (the head as the client sent it).
    init(policy: RetryPolicy, method: String, parts: some Sequence<Part>, first: Part? = nil, measure: (Part) -> (bytes: Int, ends: Bool)) {
        self.policy = policy
        self.method = method
        replay.reserveCapacity(4)  // a head, a body part or two, an end: one allocation
        for (index, part) in parts.enumerated() {
            let kept = index == 0 ? first ?? part : part
            keep(kept, measure(kept))
        }
    }

    /// Keeps `part` of the request for another attempt, while the body is within the limit.
    mutating func keep(_ part: Part, _ measured: (bytes: Int, ends: Bool)) {
        if measured.ends { requestEnded = true }
        guard replayable else { return }
        bodyBytes += measured.bytes
        if bodyBytes > policy.maximumRequestBytes {
            replayable = false
            replay = []
        } else {
            replay.append(part)
        }
    }

    /// The decision for a response head with `status` (and the gRPC status it carries, for a
    /// trailers-only gRPC response).
    mutating func judge(status: Int, grpcStatus: Int?, using random: inout LoopRandom) -> Decision {
        guard policy.retries(status: status, grpcStatus: grpcStatus) else { return .deliver }
        return next(using: &random)
    }

    /// The decision for an attempt lost after the request went out: its connection or stream
    /// closed before a response head, or its own timeout ran out.
    mutating func judgeLost(timedOut: Bool, using random: inout LoopRandom) -> Decision {
        guard policy.retriesLostAttempt(method: method, timedOut: timedOut) else { return .deliver }
        return next(using: &random)
    }

    /// The decision for an attempt that failed before anything was sent (no endpoint could take
    /// it, or its connection could not be made): always safe to try again, even before the
    /// request ended (what is still to come is kept as it arrives).
    mutating func judgeUnsent(using random: inout LoopRandom) -> Decision {
        next(requireEnd: false, using: &random)
    }

    private mutating func next(requireEnd: Bool = true, using random: inout LoopRandom) -> Decision {
        guard replayable, requestEnded || !requireEnd else { return .overflow }
        guard retries < policy.limit else { return .limitExceeded }
        retries += 1
        return .retry(after: policy.backoff(retry: retries, using: &random))
    }
}

extension RequestAttempts where Part == HTTPClientRequestPart {
    /// An HTTP/1 part's body bytes, and whether it ends the request.
    static func measure(_ part: HTTPClientRequestPart) -> (bytes: Int, ends: Bool) {
        switch part {
        case .head: (0, false)
        case .body(.byteBuffer(let buffer)): (buffer.readableBytes, false)
        case .body: (0, false)
        case .end: (0, true)
        }
    }
}

extension RequestAttempts where Part == HTTP2Frame.FramePayload {
    /// An HTTP/2 frame's body bytes, and whether it ends the request.
    static func measure(_ payload: HTTP2Frame.FramePayload) -> (bytes: Int, ends: Bool) {
        switch payload {
        case .data(let data):
            if case .byteBuffer(let buffer) = data.data { (buffer.readableBytes, data.endStream) } else { (0, data.endStream) }
        case .headers(let headers): (0, headers.endStream)
        default: (0, false)
        }
    }
}
