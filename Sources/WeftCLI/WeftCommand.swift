import ArgumentParser
import WeftCore

/// `weft`: what a person types to run and inspect a Weft mesh.
public struct WeftCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "weft",
        abstract: "Weft, a Linkerd-compatible service mesh.",
        discussion: """
            Weft reads Linkerd's resources (Server, AuthorizationPolicy, HTTPRoute, \
            ServiceProfile, ExternalWorkload, ...) and speaks Linkerd's proxy API.
            Available today: managing the objects in a running weft-controller (`weft apply`, \
            `weft get`, `weft delete`), validating manifests offline (`weft validate`), and the \
            mesh's trust material and bootstrap tokens (`weft identity`). `weft up` is being built.
            """,
        version: WeftVersion.current,
        subcommands: [UpCommand.self, DownCommand.self, RunCommand.self, DemoCommand.self, VizCommand.self, CheckCommand.self, ProxyInitCommand.self, DemoAppCommand.self, ApplyCommand.self, GetCommand.self, DeleteCommand.self, ValidateCommand.self, IdentityCommand.self]
    )

    public init() {}
}

/// The version printed by `weft --version`.
public enum WeftVersion {
    public static let current = WeftRelease.version
}
