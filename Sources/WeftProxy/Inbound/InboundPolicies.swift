import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import WeftCore
import WeftPolicy

/// Follows `InboundServerPolicies.WatchPort` for the proxy's inbound ports — those configured,
/// and any other a connection arrives on (transparent mode) — and hands each port's policy to
/// the event loop, where connections are authorized (``LoopInboundPolicies``). While the policy
/// service is unreachable the last policy stays in force; a policy the proxy cannot read makes
/// the port deny.
final class InboundPolicies: ServiceLifecycle.Service, Sendable {
    private let configuration: InboundPolicyConfiguration
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let loop: NIOLoopBound<LoopInboundPolicies>
    private let logger: Logger
    /// Ports the event loop asks to have watched.
    private let requested: AsyncStream<UInt16>
    /// Where the event loop asks (``LoopInboundPolicies/requestWatch``).
    let requestWatch: AsyncStream<UInt16>.Continuation

    /// At most this many ports are watched; connections to others are refused (deny).
    static let maximumWatchedPorts = 1_024

    private static let watchPort = MethodDescriptor(fullyQualifiedService: "io.linkerd.proxy.inbound.InboundServerPolicies", method: "WatchPort")

    private let readiness: ProxyReadiness

    init(configuration: InboundPolicyConfiguration, loop: NIOLoopBound<LoopInboundPolicies>, readiness: ProxyReadiness,
         security: ControlPlaneSecurity?, eventLoopGroup: any EventLoopGroup, logger: Logger) throws {
        self.readiness = readiness
        readiness.awaitPolicies(configuration.ports)
        self.configuration = configuration
        client = try .controlPlane(.dns(host: configuration.host, port: configuration.port),
                                   backoff: (configuration.backoffMinimum, configuration.backoffMaximum), security: security,
                                   eventLoopGroup: eventLoopGroup)
        self.loop = loop
        self.logger = logger
        (requested, requestWatch) = AsyncStream.makeStream(of: UInt16.self, bufferingPolicy: .bufferingNewest(1_024))
    }

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.client.runConnections() }
            await cancelWhenGracefulShutdown {
                await withDiscardingTaskGroup { watches in
                    var watched = Set(self.configuration.ports)
                    for port in self.configuration.ports {
                        watches.addTask { await self.watch(port) }
                    }
                    // Ports connections arrive on that no one configured (transparent mode),
                    // until shutdown: a service group takes an early return as a failure.
                    for await port in self.requested where watched.count < Self.maximumWatchedPorts && watched.insert(port).inserted {
                        watches.addTask { await self.watch(port) }
                    }
                }
            }
            requestWatch.finish()
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
        let (loop, logger, readiness) = (loop, logger, readiness)
        await stream.follow {
            { bytes in
                // Decoded here; prepared on the loop (its route scan is not Sendable).
                let decoded: Result<ServerPolicy, any Error>
                do {
                    let policy = try ServerPolicyWire.decode(server: bytes)
                    logger.debug("inbound policy", metadata: ["port": "\(port)", "protocol": "\(policy.proxyProtocol)",
                                                             "authorizations": "\(policy.authorizations.count)"])
                    decoded = .success(policy)
                } catch {
                    logger.warning("inbound policy refused: the port denies every client until a policy it can read arrives",
                                   metadata: ["port": "\(port)", "error": "\(error)"])
                    decoded = .failure(error)
                }
                loop.eventLoop.execute {
                    switch decoded {
                    case .success(let policy): loop.value.update(port: port, InboundPortPolicy(policy))
                    case .failure(let error): loop.value.update(port: port, InboundPortPolicy(refused: "\(error)"))
                    }
                }
                readiness.receivedPolicy(port)
            }
        } ended: { ending in
            if case .failed(let error) = ending {
                logger.info("inbound policy stream failed; keeping the last policy", metadata: ["port": "\(port)", "error": "\(error)"])
            }
            return .continue
        }
    }
}
