/// Which side of a workload a connection is on, the metrics' `direction` label.
public enum Direction: String, Sendable, Hashable {
    /// To the workload, from its clients.
    case inbound
    /// From the workload, to what it calls.
    case outbound
}

/// Whether a connection is mesh TLS, the metrics' `tls` label.
public enum TLSStatus: Sendable, Hashable {
    /// Mesh TLS, terminated or originated by this proxy.
    case established
    /// Plaintext (or TLS the proxy does not take part in).
    case disabled
    /// Plaintext to a peer that has no identity, and why (Linkerd's `no_tls_reason`, e.g.
    /// `not_provided_by_service_discovery`).
    case noIdentity(reason: String)

    /// The label value: `true`, `disabled` or `no_identity`, as Linkerd writes them.
    public var label: String {
        switch self {
        case .established: "true"
        case .disabled: "disabled"
        case .noIdentity: "no_identity"
        }
    }
}
