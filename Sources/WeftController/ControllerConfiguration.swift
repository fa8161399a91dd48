import Foundation
import WeftAPI
import WeftCore
import WeftPolicy

/// What `weft-controller` is told on its command line, parsed once.
public struct ControllerConfiguration: Sendable {
    public struct Address: Sendable, Equatable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `IPv4:port` or `[IPv6]:port` (the host kept without brackets).
        public init(parsing text: String) throws {
            // An IP address (IPv6 in brackets, IPv4 without) and a port.
            guard let (host, port) = HostPort.split(text), let port, IPAddress(host) != nil, host.contains(":") == text.hasPrefix("[") else {
                throw ConfigurationError("invalid address \"\(text)\": expected IPv4:port or [IPv6]:port, e.g. 127.0.0.1:8080 or [::1]:8080")
            }
            self.host = host
            self.port = Int(port)
        }

        /// Whether the host is an IPv6 address.
        public var isIPv6: Bool { host.contains(":") }

        /// `host:port`, the host in brackets when it is IPv6.
        public var text: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The trust directory written by `weft identity init`; without one the identity service
    /// is not served.
    public var identityDirectory: String?
    /// Where objects are kept. Only the embedded directory store exists today; the Kubernetes
    /// API and etcd are meant to be other cases, chosen here, with nothing above the store
    /// changing.
    public enum StoreBackend: String, Sendable, CaseIterable {
        case directory
    }

    public var storeBackend: StoreBackend = .directory
    /// The store's directory.
    public var dataDirectory: String
    /// The management API's Unix socket (`weft apply/get/delete`).
    public var apiSocket: String
    /// The management API over TCP as well, over TLS 1.3 (needs `identityDirectory`): operators
    /// with certificates, joining hosts with join tokens (``ManagementCaller``).
    public var apiAddress: Address?
    /// Serve the destination and policy services over mutual TLS with the controller's own
    /// identities (Linkerd's `linkerd-destination…` and `linkerd-policy…` names); needs
    /// `identityDirectory`. Plaintext otherwise (loopback-only meshes and tests).
    public var controlPlaneTLS = false
    /// Dual-stack workloads are service endpoints at their IPv4 address (default: IPv6, as Linkerd 2.16).
    public var preferIPv4 = false
    /// Where the destination and policy gRPC services listen (Linkerd's ports: 8086 and 8090;
    /// the same address serves both).
    public var destinationAddress: Address
    public var policyAddress: Address
    /// The admin port: `/live`, `/ready`, `/metrics`.
    public var adminAddress: Address
    public var clusterDomain: String
    public var defaultInboundPolicy: InboundPolicyBuilder.DefaultPolicy
    /// How often ExternalWorkload proxies are probed for readiness.
    public var workloadProbeInterval: TimeInterval
    /// Where the identity service listens (Linkerd's port: 8080).
    public var identityAddress: Address
    public var trustDomain: String
    public var issuanceLifetime: TimeInterval
    public var clockSkew: TimeInterval
    /// Certify requests one client address may make at once, and per second after that.
    public var certifyBurst: Double
    public var certifyRate: Double

    public init(identityDirectory: String?, identityAddress: Address, trustDomain: String,
                issuanceLifetime: TimeInterval, clockSkew: TimeInterval, certifyBurst: Double = 50, certifyRate: Double = 10,
                dataDirectory: String = ".weft/store", apiSocket: String = ".weft/controller.sock",
                destinationAddress: Address = Address(host: "127.0.0.1", port: 8086),
                policyAddress: Address = Address(host: "127.0.0.1", port: 8090),
                adminAddress: Address = Address(host: "127.0.0.1", port: 9990),
                clusterDomain: String = "cluster.local", defaultInboundPolicy: InboundPolicyBuilder.DefaultPolicy = .allUnauthenticated,
                workloadProbeInterval: TimeInterval = 1) throws {
        guard apiSocket.utf8.count < 104 else { throw ConfigurationError("the API socket path \"\(apiSocket)\" is too long for a Unix socket (at most 103 bytes)") }
        guard workloadProbeInterval >= 0.1 else { throw ConfigurationError("the workload probe interval must be at least 100ms") }
        self.dataDirectory = dataDirectory
        self.apiSocket = apiSocket
        self.destinationAddress = destinationAddress
        self.policyAddress = policyAddress
        self.adminAddress = adminAddress
        self.clusterDomain = clusterDomain
        self.defaultInboundPolicy = defaultInboundPolicy
        self.workloadProbeInterval = workloadProbeInterval
        guard certifyBurst >= 1, certifyRate > 0 else { throw ConfigurationError("certify burst must be at least 1 and the rate above 0") }
        self.certifyBurst = certifyBurst
        self.certifyRate = certifyRate
        guard issuanceLifetime >= 60 else { throw ConfigurationError("issuance lifetime must be at least 1m") }
        guard clockSkew >= 0, clockSkew < issuanceLifetime else { throw ConfigurationError("clock skew must be at least 0 and below the lifetime") }
        self.identityDirectory = identityDirectory
        self.identityAddress = identityAddress
        self.trustDomain = trustDomain
        self.issuanceLifetime = issuanceLifetime
        self.clockSkew = clockSkew
    }

    /// Seconds in a Go duration (`24h`, `20s`, `1h30m`), as Linkerd's flags take them.
    public static func seconds(parsing text: String) throws -> TimeInterval {
        switch GoDuration.parse(text) {
        case .success(let value):
            return value.duration.inSeconds
        case .failure(let error):
            throw ConfigurationError("invalid duration \"\(text)\": \(error)")
        }
    }
}

/// A bad command-line value.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
