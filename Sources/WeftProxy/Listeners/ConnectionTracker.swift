import NIOCore
import Synchronization

/// The connections a listener has open, so shutdown can wait for them and then close the rest.
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: Channel] = [:]
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.channels.count } }

    /// Tracks `channel` until it closes.
    func add(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.channels[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
                state.channels[id] = nil
                guard state.channels.isEmpty else { return [] }
                defer { state.drained = [] }
                return state.drained
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Returns once every tracked connection has closed.
    func waitUntilDrained() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.channels.isEmpty { return true }
                state.drained.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Asks every open connection to finish (HTTP handlers close idle connections and send GOAWAY).
    func quiesce() {
        for channel in state.withLock({ Array($0.channels.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Closes every connection still open.
    func closeAll() {
        for channel in state.withLock({ Array($0.channels.values) }) {
            channel.close(promise: nil)
        }
    }
}
