// weft-controller: the Weft control plane.
import ArgumentParser
import Logging
import ServiceLifecycle
import WeftController
import WeftCore

@main
struct WeftControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weft-controller",
        abstract: "The Weft control plane: resource store, identity, destination and policy services.",
        discussion: """
            Objects (Service, ExternalWorkload, Server, ServiceProfile, ...) live in a store \
            directory and are managed with `weft apply/get/delete` through a Unix socket that only \
            the controller's user can open. Proxies resolve services with \
            io.linkerd.proxy.destination.Destination and read policies from \
            io.linkerd.proxy.inbound/outbound (plaintext gRPC on loopback by default; mutual TLS \
            with --control-plane-tls). An \
            ExternalWorkload is Ready while its proxy's admin /ready answers 200.

            With --identity-dir (from `weft identity init`) the identity service \
            (io.linkerd.proxy.identity.Identity/Certify) is served too: each request must carry a \
            bootstrap token from `weft identity token create` for the identity it asks for.
            """,
        version: WeftRelease.version)

    @Option(name: .customLong("store"), help: "The store backend: directory (the embedded store; the only one today).")
    var store = "directory"

    @Option(name: .customLong("data-dir"), help: "The store's directory (created if missing).")
    var dataDirectory = ".weft/store"

    @Option(name: .customLong("api-socket"), help: "The management API's Unix socket.")
    var apiSocket = ".weft/controller.sock"

    @Option(name: .customLong("api-addr"), help: "Also serve the management API over TCP (IPv4:port or [IPv6]:port; [::] serves both families), for other hosts: TLS 1.3 with the controller's certificate (needs --identity-dir); operators present certificates (`weft identity operator create`), joining hosts join tokens (`weft token create --join`).")
    var apiAddress: String?

    @Option(name: .customLong("identity-dir"), help: "The trust directory (from `weft identity init`); the identity service runs only with one.")
    var identityDirectory: String?

    @Option(name: .customLong("identity-addr"), help: "Where the identity service listens (IPv4:port or [IPv6]:port; [::] serves both families).")
    var identityAddress = "127.0.0.1:8080"

    @Flag(name: .customLong("control-plane-tls"), help: "Serve the destination and policy services over mutual TLS with the controller's own identities (linkerd-destination.linkerd.serviceaccount.identity.linkerd.<trust domain>, linkerd-policy…); proxies must present their workload certificates and may ask only for their own workload's policy. Needs --identity-dir.")
    var controlPlaneTLS = false

    @Flag(name: .customLong("prefer-ipv4"), help: "A dual-stack ExternalWorkload is a service endpoint at its IPv4 address (default: its IPv6 one, as Linkerd 2.16+).")
    var preferIPv4 = false

    @Option(name: .customLong("destination-addr"), help: "Where the destination service listens (IPv4:port or [IPv6]:port; [::] serves both families).")
    var destinationAddress = "127.0.0.1:8086"

    @Option(name: .customLong("policy-addr"), help: "Where the inbound and outbound policy services listen (IPv4:port or [IPv6]:port; may equal --destination-addr).")
    var policyAddress = "127.0.0.1:8090"

    @Option(name: .customLong("admin-addr"), help: "The admin server: /live, /ready, /metrics (IPv4:port or [IPv6]:port; [::] serves both families).")
    var adminAddress = "127.0.0.1:9990"

    @Option(name: .customLong("cluster-domain"), help: "Service names are <svc>.<ns>.svc.<cluster-domain>.")
    var clusterDomain = "cluster.local"

    @Option(name: .customLong("default-inbound-policy"),
            help: "all-unauthenticated, all-authenticated, cluster-unauthenticated, cluster-authenticated, deny or audit.")
    var defaultInboundPolicy = "all-unauthenticated"

    @Option(name: .customLong("workload-probe-interval"), help: "How often workload proxies are probed for readiness (a Go duration).")
    var workloadProbeInterval = "1s"

    @Option(name: .customLong("trust-domain"), help: "The mesh's trust domain.")
    var trustDomain = "cluster.local"

    @Option(name: .customLong("issuance-lifetime"), help: "How long workload certificates are valid (a Go duration, e.g. 24h).")
    var issuanceLifetime = "24h"

    @Option(name: .customLong("clock-skew"), help: "Allowance for clocks that disagree, added to both ends of the validity.")
    var clockSkew = "20s"

    @Option(name: .customLong("certify-burst"), help: "Certify requests one client address may make at once.")
    var certifyBurst = 50.0

    @Option(name: .customLong("certify-rate"), help: "Certify requests per second one client address may make after the burst.")
    var certifyRate = 10.0

    @Option(name: .customLong("log-level"), help: "trace, debug, info, warning or error.")
    var logLevel = "info"

    func run() async throws {
        let configuration: ControllerConfiguration
        do {
            guard let policy = InboundPolicyBuilder.DefaultPolicy(rawValue: defaultInboundPolicy) else {
                throw ConfigurationError("unknown default inbound policy \"\(defaultInboundPolicy)\"")
            }
            guard let backend = ControllerConfiguration.StoreBackend(rawValue: store) else {
                throw ConfigurationError("unknown store \"\(store)\" (available: \(ControllerConfiguration.StoreBackend.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            var parsed = try ControllerConfiguration(
                identityDirectory: identityDirectory,
                identityAddress: try ControllerConfiguration.Address(parsing: identityAddress),
                trustDomain: trustDomain,
                issuanceLifetime: try ControllerConfiguration.seconds(parsing: issuanceLifetime),
                clockSkew: try ControllerConfiguration.seconds(parsing: clockSkew),
                certifyBurst: certifyBurst, certifyRate: certifyRate,
                dataDirectory: dataDirectory, apiSocket: apiSocket,
                destinationAddress: try ControllerConfiguration.Address(parsing: destinationAddress),
                policyAddress: try ControllerConfiguration.Address(parsing: policyAddress),
                adminAddress: try ControllerConfiguration.Address(parsing: adminAddress),
                clusterDomain: clusterDomain, defaultInboundPolicy: policy,
                workloadProbeInterval: try ControllerConfiguration.seconds(parsing: workloadProbeInterval))
            parsed.storeBackend = backend
            guard !controlPlaneTLS || identityDirectory != nil else {
                throw ConfigurationError("--control-plane-tls needs --identity-dir (the controller's certificates come from the mesh's issuer)")
            }
            parsed.controlPlaneTLS = controlPlaneTLS
            parsed.preferIPv4 = preferIPv4
            parsed.apiAddress = try apiAddress.map { try ControllerConfiguration.Address(parsing: $0) }
            configuration = parsed
        } catch {
            throw ValidationError("\(error)")
        }
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown log level \(logLevel)") }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "weft-controller")
        let plane = try await ControlPlane(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: plane.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
