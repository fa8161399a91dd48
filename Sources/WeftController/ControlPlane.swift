import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
import WeftAPI
import WeftCore
import WeftIdentity
import WeftServing
import WeftStore

/// Everything `weft-controller` runs, built from its configuration: the store, the management
/// API, the identity service (with a trust directory), the destination and policy services,
/// the workload health prober and the admin server — each a `Service` for one `ServiceGroup`.
public struct ControlPlane {
    public let services: [any ServiceLifecycle.Service]

    public init(configuration: ControllerConfiguration, logger: Logger) async throws {
        // Everything above this switch and below it sees only `any ResourceStore`; the backend
        // is also a Service (it ends its watches at shutdown).
        let store: any ResourceStore
        let storeService: any ServiceLifecycle.Service
        switch configuration.storeBackend {
        case .directory:
            let directory = try DirectoryStore(directory: configuration.dataDirectory, logger: logger)
            (store, storeService) = (directory, directory)
        }
        let metrics = ControllerMetrics()
        var services: [any ServiceLifecycle.Service] = []
        let api = try ManagementAPI(store: store, metrics: metrics, mesh: try Self.description(of: configuration),
                                    trustDirectory: configuration.identityDirectory.map { TrustDirectory(path: $0) })
        services.append(try await HTTPEndpoint(name: "management API", address: .unix(path: configuration.apiSocket),
                                               maximumBody: ManagementAPI.maximumBody, logger: logger) { await api.handle($0) })
        if let address = configuration.apiAddress {
            // Over TCP only with TLS: operators present certificates, joining hosts join tokens.
            guard let directory = configuration.identityDirectory else {
                throw ConfigurationError("--api-addr needs --identity-dir: the management API over TCP is served over TLS with the controller's certificate")
            }
            let certificate = try ControlPlaneCertificate(names: [ControlPlaneCertificate.managementName(trustDomain: configuration.trustDomain)],
                                                          directory: TrustDirectory(path: directory), clockSkew: configuration.clockSkew)
            services.append(try await HTTPEndpoint(name: "management API (TCP)", address: .tcp(host: address.host, port: address.port),
                                                   maximumBody: ManagementAPI.maximumBody, tls: try certificate.managementContext(),
                                                   logger: logger) { await api.handleTCP($0) })
        }
        if let identityDirectory = configuration.identityDirectory {
            services.append(try IdentityServer(configuration: configuration, identityDirectory: identityDirectory, logger: logger))
        }
        let destination = DestinationService(store: store, clusterDomain: configuration.clusterDomain, preferIPv4: configuration.preferIPv4,
                                             metrics: metrics, logger: logger)
        let inbound = InboundPolicyService(store: store, defaultPolicy: configuration.defaultInboundPolicy, trustDomain: configuration.trustDomain,
                                           metrics: metrics)
        let outbound = OutboundPolicyService(store: store, clusterDomain: configuration.clusterDomain, metrics: metrics)
        // Over mutual TLS with the controller's own names when asked (proxies present their
        // workload certificates; ``ControlPlaneCaller`` binds their requests to them).
        func security(_ names: [String]) throws -> HTTP2ServerTransport.Posix.TransportSecurity? {
            guard configuration.controlPlaneTLS, let directory = configuration.identityDirectory else { return nil }
            return try ControlPlaneCertificate(names: names, directory: TrustDirectory(path: directory), clockSkew: configuration.clockSkew)
                .serverSecurity(requireClientCertificate: true)
        }
        let (destinationName, policyName) = (ControlPlaneCertificate.destinationName(trustDomain: configuration.trustDomain),
                                             ControlPlaneCertificate.policyName(trustDomain: configuration.trustDomain))
        if configuration.destinationAddress == configuration.policyAddress {
            services.append(Self.grpcServer("destination and policy", configuration.destinationAddress, [destination, inbound, outbound],
                                            security: try security([destinationName, policyName]), logger))
        } else {
            services.append(Self.grpcServer("destination", configuration.destinationAddress, [destination],
                                            security: try security([destinationName]), logger))
            services.append(Self.grpcServer("policy", configuration.policyAddress, [inbound, outbound], security: try security([policyName]), logger))
        }
        services.append(RouteStatusWriter(store: store, metrics: metrics, logger: logger))
        services.append(WorkloadHealth(store: store, interval: .milliseconds(Int64(configuration.workloadProbeInterval * 1000)),
                                       anchors: try configuration.identityDirectory.map { try TrustDirectory(path: $0).readAnchors() } ?? [],
                                       metrics: metrics, logger: logger))
        services.append(try await HTTPEndpoint(name: "admin", address: .tcp(host: configuration.adminAddress.host, port: configuration.adminAddress.port),
                                               maximumBody: 0, logger: logger) { request in
            switch request.path {
            case "/live": return HTTPEndpointResponse(status: .ok, body: "live\n")
            case "/ready": return HTTPEndpointResponse(status: .ok, body: "ready\n")
            case "/metrics":
                let snapshot = await store.snapshot()
                return HTTPEndpointResponse(status: .ok, contentType: "text/plain; version=0.0.4",
                                            body: metrics.render(storeObjects: snapshot.objects.count, storeVersion: snapshot.version))
            default: return HTTPEndpointResponse(status: .notFound, body: "not found\n")
            }
        })
        // Last, so that it is shut down first (a group stops its services in reverse order): it
        // ends the watch streams, which lets the gRPC servers drain.
        services.append(storeService)
        self.services = services
    }

    /// What `GET /v1/mesh` answers: the configured addresses and the public trust material.
    static func description(of configuration: ControllerConfiguration) throws -> MeshDescription {
        func text(_ address: ControllerConfiguration.Address) -> String { address.text }
        var identity: MeshDescription.Identity?
        if let path = configuration.identityDirectory {
            let directory = TrustDirectory(path: path)
            func read(_ name: String) throws -> String {
                guard let data = FileManager.default.contents(atPath: directory.file(name)) else {
                    throw TrustDirectoryError("cannot read \(directory.file(name))")
                }
                return String(decoding: data, as: UTF8.self)
            }
            identity = MeshDescription.Identity(
                address: text(configuration.identityAddress),
                serverName: IdentityServer.serviceIdentity(trustDomain: configuration.trustDomain),
                trustAnchorsPEM: try read(TrustDirectory.anchors), issuerPEM: try read(TrustDirectory.issuerCertificate))
        }
        var description = MeshDescription(
            version: WeftRelease.version, trustDomain: configuration.trustDomain, clusterDomain: configuration.clusterDomain,
            destinationAddress: text(configuration.destinationAddress), policyAddress: text(configuration.policyAddress),
            adminAddress: text(configuration.adminAddress), identity: identity)
        if configuration.controlPlaneTLS {
            description.destinationServerName = ControlPlaneCertificate.destinationName(trustDomain: configuration.trustDomain)
            description.policyServerName = ControlPlaneCertificate.policyName(trustDomain: configuration.trustDomain)
        }
        return description
    }

    /// The gRPC server of the destination and policy APIs: plaintext (loopback) or mutual TLS.
    static func grpcServer(_ name: String, _ address: ControllerConfiguration.Address, _ services: [any RegistrableRPCService],
                           security: HTTP2ServerTransport.Posix.TransportSecurity?, _ logger: Logger) -> GRPCService<HTTP2ServerTransport.Posix> {
        // Proxies ping every 10 s to find dead connections (a host that left the network): allowed,
        // and the controller pings idle proxies in turn.
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.connection.keepalive = .init(time: .seconds(30), timeout: .seconds(10),
                                            clientBehavior: .init(minPingIntervalWithoutCalls: .seconds(5), allowWithoutCalls: true))
        config.guardConnections(tls13: security != nil)
        let transport = HTTP2ServerTransport.Posix(address: address.grpcAddress, transportSecurity: security ?? .plaintext,
                                                   config: config)
        logger.info("\(name) service listening", metadata: ["address": "\(address.text)",
                                                            "mutual TLS": "\(security != nil)"])
        return GRPCService(name: "the \(name) service", address: address.text,
                           server: GRPCServer(transport: transport, services: services))
    }
}

extension ControllerConfiguration.Address {
    /// Where a gRPC server binds: `[::]` (or any IPv6 address) also takes IPv4 clients, as
    /// v4-mapped addresses, unless the host disables that.
    var grpcAddress: GRPCNIOTransportCore.SocketAddress {
        isIPv6 ? .ipv6(host: host, port: port) : .ipv4(host: host, port: port)
    }
}
