import ArgumentParser
import Foundation
import NIOCore
import NIOSSL
import Synchronization
import WeftIdentity
import X509

/// TLS 1.3 to a controller's management API over TCP. The controller is trusted by the pin of its
/// trust anchor (`sha256:<hex>`, given with a join token, or computed from an operator's
/// `ca.crt`): the chain it presents must end in a certificate with that pin, each certificate
/// signed by the next and valid now, and the leaf must name the controller
/// (`weft-controller.linkerd.serviceaccount.identity.linkerd.<trust domain>`). An operator also
/// presents its certificate.
struct ControllerTLS: Sendable {
    let pin: String
    let clientChain: [NIOSSLCertificate]
    let clientKey: NIOSSLPrivateKey?
    /// The identity the server's certificate must name; nil: a Weft controller's name.
    var expectedIdentity: String?
    /// The anchors themselves, when known: a chain that stops below them (a proxy sends its leaf
    /// and issuer) is completed with them.
    var anchors: [Certificate] = []
    /// The names of the last certificate the controller presented and passed (`weft check`).
    let presentedNames = PresentedNames()

    /// Trust by a pin alone (a joining host).
    init(pin: String) {
        self.pin = pin
        clientChain = []
        clientKey = nil
    }

    /// A workload proxy's admin port served over TLS (`WEFT_PROXY_ADMIN_TLS`): its chain ends in
    /// the mesh's anchors and its certificate names `identity`.
    init(anchorsPEM: String, identity: String) throws {
        anchors = try TrustDirectory.certificates(pem: anchorsPEM)
        pin = try SPKIPin.of(anchors: anchors)
        clientChain = []
        clientKey = nil
        expectedIdentity = identity
    }

    /// An operator's directory from `weft identity operator create`: `operator.crt` (its chain),
    /// `operator.key`, `ca.crt` (the trust anchors).
    init(operatorDirectory directory: String) throws {
        func read(_ name: String) throws -> [UInt8] {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                throw ControllerClient.ConnectionError(description: "cannot read \(directory)/\(name) (from `weft identity operator create`)")
            }
            return [UInt8](data)
        }
        let anchors = try TrustDirectory.certificates(pem: String(decoding: try read("ca.crt"), as: UTF8.self))
        pin = try SPKIPin.of(anchors: anchors)
        self.anchors = anchors
        clientChain = try NIOSSLCertificate.fromPEMBytes(try read("operator.crt"))
        clientKey = try NIOSSLPrivateKey(bytes: try read("operator.key"), format: .pem)
    }

    func handler() throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv13
        configuration.maximumTLSVersion = .tlsv13
        // The chain and the name are checked by `verify` (the pin), not by a hostname.
        configuration.certificateVerification = .noHostnameVerification
        configuration.certificateChain = clientChain.map { .certificate($0) }
        configuration.privateKey = clientKey.map { .privateKey($0) }
        let context = try NIOSSLContext(configuration: configuration)
        let (pin, names, expected, anchors) = (pin, presentedNames, expectedIdentity, anchors)
        return try NIOSSLClientHandler(context: context, serverHostname: nil) { presented, promise in
            let problem = Self.verify(presented, pin: pin, identity: expected, anchors: anchors)
            names.record(problem == nil ? presented.first.flatMap(Self.identityNames) ?? [] : [])
            promise.succeed(problem == nil ? .certificateVerified : .failed)
        }
    }

    static func identityNames(_ certificate: NIOSSLCertificate) -> [String]? {
        (try? Certificate(derEncoded: try certificate.toDERBytes()))?.identityNames
    }

    /// Why `presented` (leaf first) is not the controller's chain under `pin`; nil when it is.
    static func verify(_ presented: [NIOSSLCertificate], pin: String, identity: String? = nil, anchors: [Certificate] = [],
                       now: Date = Date()) -> String? {
        guard var chain = try? presented.map({ try Certificate(derEncoded: try $0.toDERBytes()) }), let leaf = chain.first else {
            return "no certificate"
        }
        if !chain.contains(where: { (try? SPKIPin.of($0)) == pin }), let anchor = anchors.first(where: { (try? SPKIPin.of($0)) == pin }) {
            chain.append(anchor)
        }
        guard let anchorIndex = chain.firstIndex(where: { (try? SPKIPin.of($0)) == pin }), anchorIndex > 0 else {
            return "no certificate in the chain has the pinned key \(pin)"
        }
        for index in 0..<anchorIndex {
            let (certificate, issuer) = (chain[index], chain[index + 1])
            guard certificate.issuer == issuer.subject, issuer.publicKey.isValidSignature(certificate.signature, for: certificate) else {
                return "\(certificate.subject) is not signed by \(issuer.subject)"
            }
        }
        for certificate in chain[...anchorIndex] where !(certificate.notValidBefore...certificate.notValidAfter).contains(now) {
            return "\(certificate.subject) is not valid now"
        }
        let names = leaf.identityNames
        if let identity {
            return names.contains(identity) ? nil : "the certificate does not name \(identity)"
        }
        guard names.contains(where: { $0.hasPrefix("weft-controller.linkerd.serviceaccount.identity.linkerd.") }) else {
            return "the certificate does not name a Weft controller"
        }
        return nil
    }
}

/// How a command reaches a controller over TCP: `--operator DIR`, or `--ca-cert-hash` alone.
struct RemoteControllerOptions: ParsableArguments {
    @Option(name: .customLong("operator"), help: ArgumentHelp("With --controller HOST:PORT: the directory from `weft identity operator create` (its certificate authenticates this command over TLS).", valueName: "dir"))
    var operatorDirectory: String?

    @Option(name: .customLong("ca-cert-hash"), help: ArgumentHelp("With --controller HOST:PORT and no --operator: the controller's trust-anchor pin (sha256:<hex>, printed with a join token); the controller then answers only joins.", valueName: "pin"))
    var caCertHash: String?

    /// The client for `controller` (a socket path or HOST:PORT), else `socket`.
    func client(controller: String?, socket: String) throws -> ControllerClient {
        try ControllerClient.choose(controller: controller, operatorDirectory: operatorDirectory, caCertHash: caCertHash, socket: socket)
    }
}

extension ControllerClient {
    /// The client for `--controller` (a socket path or HOST:PORT), else the home's socket. Over
    /// TCP: TLS, authenticated by `--operator DIR`, or trusting `--ca-cert-hash` alone (which
    /// gets nothing but joining).
    static func choose(controller: String?, operatorDirectory: String?, caCertHash: String?, socket: String) throws -> ControllerClient {
        guard let controller else { return ControllerClient(socket: socket) }
        guard let endpoint = HTTPExchange.Endpoint(parsing: controller) else {
            throw ControllerClient.ConnectionError(description: "--controller: expected a socket path or HOST:PORT ([IPv6]:PORT)")
        }
        guard case .tcp = endpoint else { return ControllerClient(endpoint: endpoint) }
        if let operatorDirectory { return ControllerClient(endpoint: endpoint, tls: try ControllerTLS(operatorDirectory: operatorDirectory)) }
        guard let caCertHash, caCertHash.hasPrefix("sha256:"), caCertHash.count == 71 else {
            throw ControllerClient.ConnectionError(description: "--controller \(controller): the management API over TCP is TLS: give --operator DIR (from `weft identity operator create`), or --ca-cert-hash sha256:<hex> (printed with a join token)")
        }
        return ControllerClient(endpoint: endpoint, tls: ControllerTLS(pin: caCertHash.lowercased()))
    }
}

/// What ``ControllerTLS`` saw of the controller's certificate.
final class PresentedNames: Sendable {
    private let names = Mutex<[String]>([])

    var current: [String] { names.withLock { $0 } }

    func record(_ new: [String]) {
        names.withLock { $0 = new }
    }
}

/// The bootstrap token a joined workload authenticates its later calls with; replaced on renewal.
final class BearerToken: Sendable {
    private let value: Mutex<String?>

    init(_ token: String? = nil) {
        value = Mutex(token)
    }

    var current: String? { value.withLock { $0 } }

    func replace(with token: String) {
        value.withLock { $0 = token }
    }
}
