import WeftAPI

/// Everything a store holds at one resource version. Immutable: readers keep it as long as
/// they like while the store moves on.
public struct StoreSnapshot: Sendable {
    public let version: UInt64
    public let objects: [ResourceKey: Resource]

    public init(version: UInt64, objects: [ResourceKey: Resource]) {
        self.version = version
        self.objects = objects
    }

    /// Objects of one kind (and namespace), sorted by key.
    public func list(kind: String, namespace: String? = nil) -> [Resource] {
        objects.filter { $0.key.kind == kind && (namespace == nil || $0.key.namespace == namespace) }
            .sorted { $0.key < $1.key }.map(\.value)
    }

    public subscript(kind: String, namespace: String, name: String) -> Resource? {
        objects[ResourceKey(kind: kind, namespace: namespace, name: name)]
    }
}

/// One change, as a watch reports it.
public struct StoreEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
    }

    public let kind: Kind
    /// The object after the change (before it, for a deletion), with its new resource version.
    public let resource: Resource
    public let version: UInt64

    public init(kind: Kind, resource: Resource, version: UInt64) {
        self.kind = kind
        self.resource = resource
        self.version = version
    }
}

/// What `apply` did to one object.
public struct ApplyOutcome: Sendable, Equatable {
    public enum Action: String, Sendable {
        case created
        case configured
        case unchanged
    }

    public let key: ResourceKey
    public let action: Action
    /// The object as stored (as it would be, for a dry run).
    public let resource: Resource

    public init(key: ResourceKey, action: Action, resource: Resource) {
        self.key = key
        self.action = action
        self.resource = resource
    }
}

/// The resource store: versioned, watched objects of the kinds Weft reads. Nothing above this
/// protocol knows which backend holds the objects.
///
/// Every write is all or nothing: an `apply` of several objects either stores all of them or
/// none. Resource versions grow monotonically across the whole store.
public protocol ResourceStore: Sendable {
    /// Everything, at the current version.
    func snapshot() async -> StoreSnapshot
    func get(_ key: ResourceKey) async -> Resource?
    /// Objects of a kind, optionally in one namespace and matching every given label.
    func list(kind: String, namespace: String?, labels: [String: String]) async -> [Resource]
    /// Creates or updates objects. An object carrying `metadata.resourceVersion` must match the
    /// stored one (optimistic concurrency). The store sets uid, generation, creationTimestamp
    /// and resourceVersion; status is kept from the stored object.
    func apply(_ resources: [Resource], dryRun: Bool) async throws(StoreError) -> [ApplyOutcome]
    /// Deletes objects; every key must exist, or nothing is deleted.
    func delete(_ keys: [ResourceKey], dryRun: Bool) async throws(StoreError) -> [Resource]
    /// Replaces the status of a stored object (the status subresource; generation unchanged).
    func updateStatus(_ resource: Resource) async throws(StoreError)
    /// Each change after `version`, then each future change, in order. Asking for a version the
    /// store no longer remembers fails with `gone` (list again, then watch from there).
    func watch(from version: UInt64) async throws(StoreError) -> AsyncStream<StoreEvent>
    /// The current snapshot at once, then each new one (intermediate ones may be skipped).
    func snapshots() async -> AsyncStream<StoreSnapshot>
    /// Fails unless the store would accept a write now, changing no object: what `weft check`
    /// and `POST /v1/store/check` ask (a directory backend writes, syncs and removes a probe
    /// file; a replicated one would check that it has a quorum).
    func probeWrite() async throws(StoreError)
}

