// weft-controller: the Weft control plane. Today it serves the identity service.
import ArgumentParser
import Logging
import ServiceLifecycle
import WeftController

@main
struct WeftControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weft-controller",
        abstract: "The Weft control plane: issues workload certificates (io.linkerd.proxy.identity.Identity/Certify).",
        discussion: """
            Trust material comes from a directory written by `weft identity init`. Each Certify
            request must carry a bootstrap token from `weft identity token create` for the identity
            it asks for, and a CSR that names exactly that identity.
            """)

    @Option(name: .customLong("identity-dir"), help: "The trust directory (from `weft identity init`).")
    var identityDirectory: String

    @Option(name: .customLong("identity-addr"), help: "Where the identity service listens (IPv4:port).")
    var identityAddress = "127.0.0.1:8080"

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
            configuration = try ControllerConfiguration(
                identityDirectory: identityDirectory,
                identityAddress: try ControllerConfiguration.Address(parsing: identityAddress),
                trustDomain: trustDomain,
                issuanceLifetime: try ControllerConfiguration.seconds(parsing: issuanceLifetime),
                clockSkew: try ControllerConfiguration.seconds(parsing: clockSkew),
                certifyBurst: certifyBurst, certifyRate: certifyRate)
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
        let server = try IdentityServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
