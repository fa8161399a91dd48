/// Headers the mesh itself sets on requests, which clients may not supply.
enum MeshHeaders {
    /// The verified identity of the client, set by the inbound proxy from the mTLS peer; whatever a
    /// client sent under this name is removed on inbound.
    static let clientID = "l5d-client-id"
    /// Outbound: the identity the request's endpoint must prove over mesh TLS (removed before
    /// the request is sent on).
    static let requireID = "l5d-require-id"
    /// Between proxies: the HTTP/1 version of a request carried over HTTP/2 (`HTTP/1.1`).
    static let originalProtocol = "l5d-orig-proto"
}
