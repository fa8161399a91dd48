import NIOCore
import NIOPosix

extension ClientBootstrap {
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
