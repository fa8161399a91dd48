import WeftCore

/// The identity a mesh-TLS client proved with its verified certificate — never one it claimed in
/// a header — with its name rendered once per connection for `l5d-client-id` and the `client_id`
/// label.
struct ClientIdentity: Sendable, Equatable {
    let identity: WorkloadIdentity
    let name: String

    init(_ identity: WorkloadIdentity) {
        self.identity = identity
        name = identity.description
    }
}
