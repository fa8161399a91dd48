import Logging
import NIOCore

/// The outbound endpoint stage, one for HTTP/1, HTTP/2 and opaque forwarding alike: picks an
/// endpoint of a service from the loop's balancer (waiting once for discovery's first answer),
/// checks the request's `l5d-require-id`, opens the caller's connection (or stream) to it, and when
/// that fails — nothing of the request was sent yet — sets the endpoint aside and tries another,
/// ``maximumTries`` tries in all. The endpoint's load is kept as it goes: picked, connected,
/// abandoned, connect failures backed off.
struct EndpointConnector {
    /// The most endpoints one request or connection tries.
    static let maximumTries = 3

    /// What opening a connection gave: one at hand (a pooled connection: no future, nothing
    /// allocated), or one on its way.
    enum Opening<Connection> {
        case opened(Connection)
        case opening(EventLoopFuture<Connection>)
    }

    let discovery: LoopDiscovery
    /// The service the client named.
    let service: LogicalTarget
    /// The backend the route stage chose; nil: the logical stage chooses (opaque connections).
    var concrete: ConcreteTarget? = nil
    /// `l5d-require-id`: the endpoint must be reached over mesh TLS as exactly this identity.
    let requiredIdentity: String?
    /// Whether this proxy originates mesh TLS to endpoints that have an identity.
    let originatesMeshTLS: Bool
    let logger: Logger

    /// Opens a connection with `open` to an endpoint that takes it; calls `completion` on the loop
    /// with the connection and its endpoint, or with why none could be had.
    func connect<Connection>(_ open: @escaping (BalancedEndpoint) -> Opening<Connection>,
                             completion: @escaping (Result<(Connection, BalancedEndpoint), ProxyError>) -> Void) {
        attempt(1, excluding: nil, open, completion)
    }

    private func attempt<Connection>(_ number: Int, excluding: BalancedEndpoint?,
                                     _ open: @escaping (BalancedEndpoint) -> Opening<Connection>,
                                     _ completion: @escaping (Result<(Connection, BalancedEndpoint), ProxyError>) -> Void) {
        discovery.endpoint(for: service, concrete: concrete, excluding: excluding) { chosen in
            let endpoint: BalancedEndpoint
            switch chosen {
            case .success(let value): endpoint = value
            case .failure(let error):
                completion(.failure(error))
                return
            }
            if let error = Self.requirementFailure(requiredIdentity, endpoint, originatesMeshTLS: originatesMeshTLS) {
                completion(.failure(error))
                return
            }
            endpoint.started(now: discovery.clock.now())
            switch open(endpoint) {
            case .opened(let connection):
                endpoint.connected()
                completion(.success((connection, endpoint)))
            case .opening(let future):
                future.assumeIsolated().whenComplete { opened in
                    switch opened {
                    case .success(let connection):
                        endpoint.connected()
                        completion(.success((connection, endpoint)))
                    case .failure(let error):
                        refused(endpoint, error, number, open, completion)
                    }
                }
            }
        }
    }

    /// `endpoint` did not take the connection: it is set aside, and another is tried while tries are left.
    private func refused<Connection>(_ endpoint: BalancedEndpoint, _ error: any Error, _ number: Int,
                                     _ open: @escaping (BalancedEndpoint) -> Opening<Connection>,
                                     _ completion: @escaping (Result<(Connection, BalancedEndpoint), ProxyError>) -> Void) {
        endpoint.abandoned()
        endpoint.connectFailed(now: discovery.clock.now())
        let failure = error as? ProxyError ?? ProxyError(code: .connectFailed, detail: "\(endpoint.target): \(error)")
        guard number < Self.maximumTries else {
            completion(.failure(failure))
            return
        }
        logger.info("endpoint refused the connection; trying another",
                    metadata: ["endpoint": "\(endpoint.target)", "error": "\(failure.message)"])
        attempt(number + 1, excluding: endpoint, open, completion)
    }

    /// Why a target outside discovery cannot take a request that requires `identity`
    /// (`l5d-require-id`): it is not a meshed endpoint, so nothing can prove an identity.
    static func unmeshedFailure(_ target: ConnectionTarget, requires identity: String) -> ProxyError {
        ProxyError(code: .identityRequired, detail: "l5d-require-id: \(target) is not a meshed endpoint, it cannot prove \(identity)")
    }

    /// Why `endpoint` cannot take a request that requires `identity` (`l5d-require-id`): it must
    /// be reached over mesh TLS as exactly that identity.
    static func requirementFailure(_ identity: String?, _ endpoint: BalancedEndpoint, originatesMeshTLS: Bool) -> ProxyError? {
        guard let identity else { return nil }
        guard originatesMeshTLS, let peer = endpoint.endpoint.meshPeer else {
            return ProxyError(code: .identityRequired, detail: "l5d-require-id: \(endpoint.target) is not reached over mesh TLS, it cannot prove \(identity)")
        }
        guard peer.identity == identity else {
            return ProxyError(code: .identityRequired, detail: "l5d-require-id: \(endpoint.target) is \(peer.identity), not \(identity)")
        }
        return nil
    }
}
