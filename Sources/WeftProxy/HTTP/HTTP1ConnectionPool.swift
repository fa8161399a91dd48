import NIOCore

/// Idle HTTP/1 connections to targets, kept for reuse by any client connection on the same event
/// loop, and closed after an idle timeout.
///
/// A connection enters the pool only between exchanges (its last response complete, keep-alive
/// on both sides); a request takes the most recently used one for its target, or connects anew.
final class HTTP1ConnectionPool {
    /// The most idle connections kept per target.
    static let maximumIdlePerTarget = 64

    private struct Idle {
        let channel: Channel
        let expiry: Scheduled<Void>
    }

    private let eventLoop: EventLoop
    private let idleTimeout: TimeAmount
    private var idle: [ConnectionTarget: [Idle]] = [:]

    init(eventLoop: EventLoop, idleTimeout: Duration) {
        self.eventLoop = eventLoop
        self.idleTimeout = TimeAmount(idleTimeout)
    }

    /// An idle, still-open connection to `target`, if there is one.
    func take(_ target: ConnectionTarget) -> Channel? {
        while let entry = idle[target]?.popLast() {
            entry.expiry.cancel()
            if entry.channel.isActive { return entry.channel }
        }
        return nil
    }

    /// Keeps `channel` for reuse; it closes if unused for the idle timeout, or at once when the
    /// pool for its target is full or the timeout is zero.
    func put(_ channel: Channel, for target: ConnectionTarget) {
        guard channel.isActive, idleTimeout > .zero, (idle[target]?.count ?? 0) < Self.maximumIdlePerTarget else {
            channel.close(promise: nil)
            return
        }
        let expiry = eventLoop.assumeIsolated().scheduleTask(in: idleTimeout) { [self] in
            idle[target]?.removeAll { $0.channel === channel }
            channel.close(promise: nil)
        }
        idle[target, default: []].append(Idle(channel: channel, expiry: expiry))
        // A connection the target closes while idle leaves the pool.
        channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
            idle[target]?.removeAll { $0.channel === channel }
        }
    }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        for entries in idle.values {
            for entry in entries {
                entry.expiry.cancel()
                entry.channel.close(promise: nil)
            }
        }
        idle.removeAll()
    }
}
