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
            A mesh on this machine: `weft up` starts the control plane, `weft run` meshes a process, \
            `weft viz stat` and `weft viz edges` show its golden metrics and who talks to whom, \
            `weft check` checks it, `weft down` stops it; `weft demo` does it all with an example \
            application. The controller's objects: `weft apply`, `weft get`, `weft delete`; \
            offline: `weft validate`; trust material and tokens: `weft identity`; join tokens for other \
            hosts: `weft token`; iptables \
            capture: `weft proxy-init`.
            """,
        version: WeftVersion.current,
        subcommands: [UpCommand.self, DownCommand.self, RunCommand.self, DemoCommand.self, VizCommand.self, CheckCommand.self, ProxyInitCommand.self, DemoAppCommand.self, ApplyCommand.self, GetCommand.self, DeleteCommand.self, ValidateCommand.self, IdentityCommand.self, JoinTokenCommand.self]
    )

    public init() {}
}

/// The version printed by `weft --version`.
public enum WeftVersion {
    public static let current = WeftRelease.version
}
