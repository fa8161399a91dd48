import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore

/// A server-streaming call to the control plane that is made again whenever it ends or fails,
/// with capped exponential backoff (jittered ±10 %) reset by every message received. Messages
/// are the raw protobuf bytes; the caller decodes them.
struct ControlStream: Sendable {
    /// What a handler returns for each message.
    enum Next {
        case `continue`
        /// The answer will not change by asking again soon: the next call waits the longest backoff.
        case backOffFully
    }

    /// Why a call ended.
    enum Ending {
        case streamEnded
        case failed(any Error)
    }

    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let method: MethodDescriptor
    let request: [UInt8]
    let backoffMinimum: Duration
    let backoffMaximum: Duration
    /// Sent with every call (the SPIFFE Workload API requires `workload.spiffe.io: true`).
    var metadata: Metadata = [:]

    /// Calls until cancelled. For each call, `newCall` makes the handler of that call's messages
    /// (so that what a call accumulates starts afresh with the next one, as the control-plane
    /// APIs ask); `ended` hears of each ending and may ask for the longest backoff.
    func follow(newCall: @escaping @Sendable () -> ([UInt8]) async throws -> Void, ended: (Ending) -> Next) async {
        var backoff = backoffMinimum
        while !Task.isCancelled {
            var next = Next.continue
            do {
                var options = CallOptions.defaults
                options.maxResponseMessageBytes = 4 << 20
                // While the controller is away the call waits for the connection (made again
                // within a second of its return), rather than failing and sleeping this loop's
                // own, longer backoff on top of the connection's.
                options.waitForReady = true
                let received = try await client.serverStreaming(
                    request: ClientRequest(message: request, metadata: metadata), descriptor: method,
                    serializer: RawMessageCoder(), deserializer: RawMessageCoder(), options: options
                ) { response in
                    let message = newCall()
                    var received = false
                    for try await bytes in response.messages {
                        try await message(bytes)
                        received = true
                    }
                    return received
                }
                if received { backoff = backoffMinimum }
                next = ended(.streamEnded)
            } catch {
                if Task.isCancelled { return }
                next = ended(.failed(error))
            }
            if case .backOffFully = next { backoff = backoffMaximum }
            let seconds = Double(backoff.components.seconds) + Double(backoff.components.attoseconds) / 1e18
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000 * Double.random(in: 0.9...1.1))))
            backoff = min(backoff * 2, backoffMaximum)
        }
    }
}

extension GRPCClient where Transport == HTTP2ClientTransport.Posix {
    /// A client for a control-plane service at `target`, reconnecting with the given backoff, on
    /// the proxy's own event loops: over mutual TLS when `security` is given, else plaintext.
    static func controlPlane(_ target: any ResolvableTarget, backoff: (minimum: Duration, maximum: Duration),
                             security: ControlPlaneSecurity? = nil, authority: String? = nil, eventLoopGroup: any EventLoopGroup) throws -> GRPCClient {
        var config = HTTP2ClientTransport.Posix.Config.defaults
        // Connection attempts at most a second apart (a controller that comes back is found within
        // about a second); the streams' own backoff (`backoff`) spaces calls the controller refuses.
        config.backoff = .init(initial: backoff.minimum, max: min(backoff.maximum, .seconds(1)), multiplier: 2, jitter: 0.1)
        if let authority = security?.serverName ?? authority { config.http2.authority = authority }
        // A connection that never hears from the controller is closed (and made again) rather
        // than waited on; one that goes silent later is found by HTTP/2 keepalive pings.
        config.channelDebuggingCallbacks.onCreateTCPConnection = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(FirstReadTimeoutHandler(timeout: .seconds(2)), position: .first)
            }
        }
        config.connection.keepalive = .init(time: .seconds(10), timeout: .seconds(5), allowWithoutCalls: true)
        return GRPCClient(transport: try HTTP2ClientTransport.Posix(target: target, transportSecurity: try security?.transportSecurity() ?? .plaintext,
                                                                    config: config, eventLoopGroup: eventLoopGroup))
    }
}
