import FoundationEssentials
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import ServiceLifecycle
import WeftCore
import WeftIdentity

/// SPIFFE mode (linkerd-compat §2.14): the proxy's credentials come from a SPIFFE Workload API
/// (a SPIRE agent) over its Unix socket — `FetchX509SVID`, a stream on which the agent pushes
/// every new SVID, called with `workload.spiffe.io: true`. The SVID whose ID is this proxy's
/// `SERVER_ID` is checked by the X509-SVID rules against the configured trust anchors
/// (``X509SVID``) and replaces the current credentials; SVIDs that fail are logged and the
/// current credentials kept. The stream is re-opened with backoff (100 ms to 1 s).
final class WorkloadAPIClient: ServiceLifecycle.Service, Sendable {
    private let configuration: IdentityConfiguration
    private let identity: SPIFFEID
    private let store: CredentialStore
    private let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let metrics: IdentityMetrics
    private let logger: Logger

    private static let fetch = MethodDescriptor(fullyQualifiedService: "SpiffeWorkloadAPI", method: "FetchX509SVID")

    init(configuration: IdentityConfiguration, socketPath: String, store: CredentialStore, registry: MetricRegistry,
         eventLoopGroup: any EventLoopGroup, logger: Logger) throws {
        guard case .spiffe(let identity) = configuration.localIdentity else {
            throw CredentialError("SPIFFE mode needs a spiffe:// identity")
        }
        self.identity = identity
        self.configuration = configuration
        self.store = store
        client = try .controlPlane(.unixDomainSocket(path: socketPath), backoff: (.milliseconds(100), .seconds(1)),
                                   authority: "localhost", eventLoopGroup: eventLoopGroup)
        metrics = IdentityMetrics(registry: registry)
        self.logger = logger
    }

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.client.runConnections() }
            await cancelWhenGracefulShutdown { await self.follow() }
            client.beginGracefulShutdown()
        }
    }

    private func follow() async {
        let stream = ControlStream(client: client, method: Self.fetch, request: [], backoffMinimum: .milliseconds(100),
                                   backoffMaximum: .seconds(1), metadata: ["workload.spiffe.io": "true"])
        await stream.follow {
            { bytes in await self.receive(bytes) }
        } ended: { ending in
            switch ending {
            case .streamEnded:
                self.logger.info("the Workload API stream ended; reconnecting")
                return .continue
            case .failed(let error as RPCError) where error.code == .invalidArgument:
                self.logger.warning("the Workload API refused the request", metadata: ["error": "\(error.message)"])
                return .backOffFully
            case .failed(let error):
                self.logger.info("the Workload API is unreachable; keeping the current certificate",
                                 metadata: ["error": "\(error)", "has certificate": "\(self.store.current != nil)"])
                return .continue
            }
        }
    }

    private func receive(_ bytes: [UInt8]) async {
        let svids: [SVIDWire.SVID]
        do {
            svids = try SVIDWire.decodeResponse(bytes)
        } catch {
            logger.warning("unreadable Workload API response", metadata: ["error": "\(error)"])
            return
        }
        guard let mine = svids.first(where: { $0.spiffeID == identity.description }) else {
            logger.warning("no SVID for this proxy's identity in the Workload API's answer",
                           metadata: ["identity": "\(identity)", "offered": "\(svids.map(\.spiffeID))"])
            return
        }
        do {
            let credentials = try await X509SVID.credentials(chainDER: mine.chain, keyDER: mine.key, identity: identity,
                                                             anchors: configuration.trustAnchors)
            store.install(credentials)
            metrics.installed(credentials)
            logger.info("certified", metadata: ["identity": "\(identity)", "serial": "\(HexText.encode(credentials.leaf.serialNumber.bytes))",
                                                "expiry": "\(credentials.expiry)", "source": "Workload API"])
        } catch {
            logger.warning("SVID refused; keeping the current certificate", metadata: ["error": "\(error)"])
        }
    }
}

/// The Workload API's `X509SVIDResponse` in protobuf wire format, by hand (the proxy does not
/// link SwiftProtobuf): `repeated X509SVID svids = 1`, each `{ string spiffe_id = 1; bytes
/// x509_svid = 2; bytes x509_svid_key = 3; bytes bundle = 4; string hint = 5; }`.
enum SVIDWire {
    struct SVID: Equatable {
        var spiffeID = ""
        var chain: [UInt8] = []
        var key: [UInt8] = []
    }

    static func decodeResponse(_ bytes: [UInt8]) throws(ProtobufDecodingError) -> [SVID] {
        var reader = ProtobufReader(bytes[...])
        var svids: [SVID] = []
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            guard field == 1, wireType == 2 else {
                try reader.skip(wireType: wireType)
                continue
            }
            var message = try reader.message()
            var svid = SVID()
            while !message.isAtEnd {
                let (field, wireType) = try message.key()
                switch (field, wireType) {
                case (1, 2): svid.spiffeID = try message.string()
                case (2, 2): svid.chain = Array(try message.lengthDelimited())
                case (3, 2): svid.key = Array(try message.lengthDelimited())
                default: try message.skip(wireType: wireType)
                }
            }
            svids.append(svid)
        }
        return svids
    }
}
