import NIOHTTP1
import NIOSSL

/// Why the proxy answered a request itself. Turned into a response only at the HTTP edge.
struct ProxyError: Error, Sendable {
    enum Code: String, Sendable {
        /// The target refused or reset the connection.
        case connectFailed
        /// The target did not accept the connection in time.
        case connectTimeout
        /// The target closed the connection before a complete response.
        case upstreamClosed
        /// A request the proxy does not forward (CONNECT).
        case unsupportedMethod
        /// Ingress mode, and the request names no target.
        case noTarget
        /// The request's head breaks HTTP's rules (e.g. two `Host` headers).
        case malformedRequest
        /// Discovery says the service does not exist.
        case unknownService
        /// The service exists but has no ready endpoint (after the fail-fast timeout).
        case noEndpoints
        /// The destination service gave no answer for a service not yet known.
        case discoveryUnavailable
        /// `l5d-require-id` named an identity the chosen endpoint does not have.
        case identityRequired
        /// The service has routes and none matches the request.
        case noRoute
        /// The request's rule redirects it (`status` and `location` say where).
        case redirected
        /// The request's rule fails a share of requests (`status`: an HTTP status, or for gRPC
        /// routes a gRPC status).
        case injectedFailure
        /// The rule's request timeout ran out (every attempt and backoff included).
        case requestTimeout
        /// An attempt's timeout ran out and the attempt could not be retried.
        case attemptTimeout
        /// Inbound: the port's policy does not authorize this client (on this route).
        case forbidden
    }

    let code: Code
    let detail: String
    /// The status a route's filter chose (redirects, injected failures).
    var routeStatus: Int? = nil
    /// A redirect's `location`.
    var location: String? = nil

    init(code: Code, detail: String, status: Int? = nil, location: String? = nil) {
        self.code = code
        self.detail = detail
        routeStatus = status
        self.location = location
    }

    /// The HTTP status Linkerd uses for this cause.
    var status: HTTPResponseStatus {
        switch code {
        case .connectFailed, .upstreamClosed, .identityRequired: .badGateway
        case .connectTimeout, .requestTimeout, .attemptTimeout: .gatewayTimeout
        case .unsupportedMethod, .noTarget, .malformedRequest: .badRequest
        case .unknownService, .noEndpoints, .discoveryUnavailable: .serviceUnavailable
        case .noRoute: .notFound
        case .forbidden: .forbidden
        case .redirected, .injectedFailure: HTTPResponseStatus(statusCode: routeStatus ?? 500)
        }
    }

    /// The gRPC status for gRPC requests (UNAVAILABLE for every transport failure).
    var grpcStatus: Int {
        switch code {
        case .unsupportedMethod: 12   // UNIMPLEMENTED
        case .noTarget, .malformedRequest: 3  // INVALID_ARGUMENT
        case .noRoute: 5                      // NOT_FOUND
        case .forbidden: 7                    // PERMISSION_DENIED
        case .injectedFailure: routeStatus ?? 2
        case .requestTimeout, .attemptTimeout: 4   // DEADLINE_EXCEEDED
        default: 14                   // UNAVAILABLE
        }
    }

    /// Whether the failure was the network's (the target unreachable or gone), as opposed to a
    /// request the proxy will not forward.
    var isTransportFailure: Bool {
        switch code {
        case .connectFailed, .connectTimeout, .upstreamClosed: true
        case .unsupportedMethod, .noTarget, .malformedRequest, .unknownService, .noEndpoints, .discoveryUnavailable, .identityRequired,
             .noRoute, .redirected, .injectedFailure, .requestTimeout, .attemptTimeout, .forbidden: false
        }
    }

    /// The text of `l5d-proxy-error`.
    var message: String { detail }
}

extension ProxyError {
    /// The account of a mesh-TLS failure on a connection to a peer (a peer that is not who it
    /// must be, or a failed handshake); nil for other errors.
    init?(meshTLSFailure error: any Error) {
        switch error {
        case let mismatch as PeerIdentityCheck.Mismatch:
            self.init(code: .connectFailed, detail: "mesh TLS refused: \(mismatch)")
        case let tls as NIOSSLError:
            self.init(code: .connectFailed, detail: "mesh TLS handshake failed: \(tls)")
        default:
            return nil
        }
    }
}
