import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import WeftCore
import WeftPolicy

/// Follows `InboundServerPolicies.WatchPort` for the proxy's inbound ports and keeps each
/// port's protocol on the event loop, where connections read it: a port whose policy says
/// opaque (or TLS) is forwarded as bytes without protocol detection. Until a port's policy is
/// known, and while the policy service is unreachable, the last known protocol (else detection)
/// applies. Authorizations are not enforced yet.
final class InboundPolicies: ServiceLifecycle.Service, Sendable {
    private let configuration: InboundPolicyConfiguration
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let loop: NIOLoopBound<LoopInboundPolicies>
    private let logger: Logger

    private static let watchPort = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.inbound.InboundServerPolicies", method: "WatchPort")

    init(configuration: InboundPolicyConfiguration, loop: NIOLoopBound<LoopInboundPolicies>, eventLoopGroup: any EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        client = try .controlPlane(.dns(host: configuration.host, port: configuration.port),
                                   backoff: (configuration.backoffMinimum, configuration.backoffMaximum), eventLoopGroup: eventLoopGroup)
        self.loop = loop
        self.logger = logger
    }

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.client.runConnections() }
            await cancelWhenGracefulShutdown {
                await withDiscardingTaskGroup { watches in
                    for port in self.configuration.ports {
                        watches.addTask { await self.watch(port) }
                    }
                    // With no port to watch (a client-only workload) the service still lives
                    // until shutdown: a service group takes an early return as a failure.
                    if self.configuration.ports.isEmpty {
                        watches.addTask { try? await gracefulShutdown() }
                    }
                }
            }
            client.beginGracefulShutdown()
        }
    }

    /// `PortSpec { string workload = 1; uint32 port = 2; }`.
    static func portSpec(workload: String, port: UInt16) -> [UInt8] {
        var writer = ProtobufWriter()
        writer.field(1, workload)
        writer.varint(2 << 3)
        writer.varint(UInt64(port))
        return writer.bytes
    }

    private func watch(_ port: UInt16) async {
        let stream = ControlStream(client: client, method: Self.watchPort, request: Self.portSpec(workload: configuration.workload, port: port),
                                   backoffMinimum: configuration.backoffMinimum, backoffMaximum: configuration.backoffMaximum)
        let loop = loop
        let logger = logger
        await stream.follow {
            { bytes in
                let kind = try ServerPolicyWire.proxyProtocol(server: bytes)
                logger.debug("inbound policy", metadata: ["port": "\(port)", "protocol": "\(kind)"])
                loop.eventLoop.execute { loop.value.protocols[port] = kind }
            }
        } ended: { ending in
            if case .failed(let error) = ending {
                logger.info("inbound policy stream failed; keeping the last policy", metadata: ["port": "\(port)", "error": "\(error)"])
            }
            return .continue
        }
    }
}

/// The inbound policies one event loop's connections read.
final class LoopInboundPolicies {
    var protocols: [UInt16: ServerPolicy.ProxyProtocol] = [:]

    /// Whether connections to `port` skip protocol detection (its policy says opaque or TLS).
    func isOpaque(_ port: UInt16) -> Bool {
        protocols[port]?.skipsDetection ?? false
    }
}
