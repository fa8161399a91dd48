/// The outbound stages' targets, in the order a request meets them (as linkerd2-proxy names
/// them): the service the client named (logical), the backend service its traffic goes to
/// (concrete: the service itself, or a split's choice), then an endpoint (``BalancedEndpoint``).

/// A service under discovery, as the client named it: `host:port`.
struct LogicalTarget: Hashable, Sendable, CustomStringConvertible {
    let path: String

    var description: String { path }
}

/// A backend service whose endpoints take a logical target's traffic: `host:port`.
struct ConcreteTarget: Hashable, Sendable, CustomStringConvertible {
    let path: String

    var description: String { path }
}
