import NIOCore
import NIOPosix

extension ClientBootstrap {
    /// How the proxy dials a target: on the client connection's event loop, with the configured
    /// connect timeout and Nagle off.
    static func upstream(on eventLoop: EventLoop, connectTimeout: TimeAmount) -> ClientBootstrap {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
    }

    /// Connects to an address, or to a name (resolved by NIO's resolver, which runs getaddrinfo
    /// off the event loop and races IPv6 and IPv4).
    func connect(to target: ConnectionTarget) -> EventLoopFuture<Channel> {
        switch target {
        case .address(let address): connect(to: address)
        case .name(let host, let port): connect(host: host, port: Int(port))
        }
    }
}

extension ProxyError {
    /// The proxy's account of a failed connect to `target`.
    init(connecting target: ConnectionTarget, failure: any Error, timeout: TimeAmount) {
        if case .connectTimeout? = failure as? ChannelError {
            self.init(code: .connectTimeout, detail: "connect timed out after \(timeout.nanoseconds / 1_000_000)ms")
        } else {
            self.init(code: .connectFailed, detail: "connection refused: \(target)")
        }
    }
}
