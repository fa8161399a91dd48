import NIOCore
import WeftCore

/// Idle HTTP/1 connections to targets, kept for reuse by any client connection on the same event
/// loop, and closed after an idle timeout.
///
/// A connection enters the pool only between exchanges (its last response complete, keep-alive
/// on both sides); a request takes the most recently used one for its target, or connects anew.
/// Putting and taking allocate nothing per request: expiry is one sweep timer for the pool, and
/// each connection is watched for closing once, when it is made.
final class HTTP1ConnectionPool {
    /// The most idle connections kept per target.
    static let maximumIdlePerTarget = 64

    private struct Idle {
        let connection: HTTP1Connection
        let expires: NIODeadline
        var channel: Channel { connection.channel }
    }

    /// One target's idle connections, most recently used last. A class, so that taking and
    /// putting change it in place without writing the dictionary back.
    private final class Idles {
        var entries: [Idle] = []
    }

    private let eventLoop: EventLoop
    private let idleTimeout: TimeAmount
    /// Where expiry reads the time (the sweep timer still runs on the loop's own clock).
    private let clock: MonotonicClock
    private var idle: [ConnectionTarget: Idles] = [:]
    private var sweep: Scheduled<Void>?

    init(eventLoop: EventLoop, idleTimeout: Duration, clock: MonotonicClock) {
        self.eventLoop = eventLoop
        self.clock = clock
        self.idleTimeout = TimeAmount(idleTimeout)
    }

    /// Call once for each new connection to `target`: if it closes while idle, it leaves the pool.
    func watch(_ channel: Channel, for target: ConnectionTarget) {
        channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
            idle[target]?.entries.removeAll { $0.channel === channel }
        }
    }

    /// An idle, still-open connection to `target`, if there is one.
    func take(_ target: ConnectionTarget) -> HTTP1Connection? {
        guard let idles = idle[target] else { return nil }
        let now = clock.deadline()
        while let entry = idles.entries.popLast() {
            if entry.channel.isActive && entry.expires > now { return entry.connection }
            entry.channel.close(promise: nil)
        }
        return nil
    }

    /// Keeps `channel` for reuse; it closes if unused for the idle timeout, or at once when the
    /// pool for its target is full or the timeout is zero.
    func put(_ connection: HTTP1Connection, for target: ConnectionTarget) {
        let idles = idle[target]
        guard connection.channel.isActive, idleTimeout > .zero, (idles?.entries.count ?? 0) < Self.maximumIdlePerTarget else {
            connection.channel.close(promise: nil)
            return
        }
        let entry = Idle(connection: connection, expires: clock.deadline() + idleTimeout)
        if let idles {
            idles.entries.append(entry)
        } else {
            let created = Idles()
            created.entries.append(entry)
            idle[target] = created
        }
        if sweep == nil { scheduleSweep(in: idleTimeout) }
    }

    /// Closes expired connections in `delay` (a timer on the loop), and again at the next expiry.
    private func scheduleSweep(in delay: TimeAmount) {
        sweep = eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            sweep = nil
            let now = clock.deadline()
            var earliest: NIODeadline? = nil
            for (target, idles) in idle {
                idles.entries.removeAll { entry in
                    guard entry.expires <= now else {
                        earliest = min(earliest ?? entry.expires, entry.expires)
                        return false
                    }
                    entry.channel.close(promise: nil)
                    return true
                }
                if idles.entries.isEmpty { idle[target] = nil }
            }
            if let earliest { scheduleSweep(in: earliest - now) }
        }
    }

    /// Closes every idle connection (shutdown).
    func closeAll() {
        sweep?.cancel()
        sweep = nil
        for idles in idle.values {
            for entry in idles.entries { entry.channel.close(promise: nil) }
        }
        idle.removeAll()
    }
}

/// One HTTP/1 exchange's way to its target: a connection of its own (pooled between exchanges)
/// or one stream of a shared HTTP/2 connection to a meshed endpoint, with the handlers the
/// forwarder works with (so none is ever looked up by type). A class: the forwarder consults its
/// current one several times per request, and a reference is one retain where the four fields
/// would be four.
final class HTTP1Connection {
    let channel: Channel
    /// Hands the target's response parts to the forwarder using the connection.
    let relay: UpstreamRelay
    /// The HTTP/1 client handlers of a connection of its own; nil for an HTTP/2 stream.
    let handlers: HTTP1ClientHandlers?
    /// The HTTP/2 connection a stream is on (it knows why it failed, if it did).
    let http2: HTTP2Upstream?

    init(channel: Channel, relay: UpstreamRelay, handlers: HTTP1ClientHandlers?, http2: HTTP2Upstream?) {
        self.channel = channel
        self.relay = relay
        self.handlers = handlers
        self.http2 = http2
    }

    var isStream: Bool { http2 != nil }
}
