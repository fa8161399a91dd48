/// Bounds on the YAML that Weft reads, so hostile input is refused quickly with bounded memory.
public struct ManifestLimits: Sendable {
    /// The largest input (one file or standard input), in bytes.
    public var maximumInputBytes = 8 * 1024 * 1024
    /// The longest scalar, in bytes (Kubernetes' limit on all of an object's annotations).
    public var maximumScalarBytes = 256 * 1024
    /// The deepest nesting of mappings and sequences.
    public var maximumDepth = 64
    /// The most nodes one document may have.
    public var maximumNodesPerDocument = 100_000
    /// The most documents one input may hold.
    public var maximumDocuments = 1_000

    public init() {}

    /// The limits every reader uses unless told otherwise.
    public static let `default` = ManifestLimits()
}
