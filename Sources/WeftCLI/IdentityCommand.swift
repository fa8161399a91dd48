import ArgumentParser
import Crypto
import Foundation
import WeftAPI
import WeftCore
import WeftIdentity
import X509

/// `weft identity`: the mesh's trust material and workloads' bootstrap tokens.
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Create and inspect trust material; issue bootstrap tokens.",
        subcommands: [InitCommand.self, InspectCommand.self, TokenCommand.self, OperatorCommand.self])

    /// `weft identity init --dir DIR`.
    struct InitCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Write a new trust anchor, an issuer signed by it, and a token-signing key.",
            discussion: """
                Writes trust-anchors.pem (give it to every proxy as LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS), \
                issuer.crt and issuer.key (used by weft-controller), anchor.key (keep it offline once \
                the issuer exists) and token-signing.key, in a directory made 0700 with keys 0600. \
                Existing files are never replaced.
                """)

        @Option(name: .customLong("dir"), help: "The directory to write.")
        var directory: String

        @Option(name: .customLong("trust-domain"), help: "The mesh's trust domain.")
        var trustDomain = "cluster.local"

        @Option(name: .customLong("issuer-lifetime"), help: "How long the issuer is valid, in days.")
        var issuerDays = 365

        @Option(name: .customLong("anchor-lifetime"), help: "How long the trust anchor is valid, in days.")
        var anchorDays = 3650

        func run() throws {
            guard issuerDays > 0, anchorDays >= issuerDays else {
                throw ValidationError("lifetimes must be positive, and the anchor's at least the issuer's")
            }
            let material = try TrustMaterial.generate(trustDomain: trustDomain, anchorLifetime: Double(anchorDays) * 86_400,
                                                      issuerLifetime: Double(issuerDays) * 86_400)
            let directory = TrustDirectory(path: directory)
            try directory.write(material, tokenKey: P256.Signing.PrivateKey())
            print("wrote \(directory.path): trust anchor \(material.anchor.subject) until \(material.anchor.notValidAfter), "
                  + "issuer \(material.issuer.subject) until \(material.issuer.notValidAfter)")
        }
    }

    /// `weft identity inspect FILE`.
    struct InspectCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Print the certificates of a file or a live TLS endpoint: names, validity, issuer and SPIFFE ID.",
            discussion: """
                FILE is PEM (one or more certificates) or DER. ADDR is host:port: the chain the \
                endpoint presents in a TLS handshake is printed (a Weft or Linkerd proxy terminates \
                mesh TLS only for its own name: give it with --server-name). With --trust-anchors, \
                the chain is also checked against them.
                """)

        @Argument(help: ArgumentHelp("A certificate file, or host:port of a TLS endpoint.", valueName: "FILE|ADDR"))
        var source: String

        @Option(name: .customLong("server-name"), help: "The TLS server name (SNI) to ask an endpoint for.")
        var serverName: String?

        @Option(name: .customLong("trust-anchors"), help: "A PEM bundle to verify the chain against.")
        var trustAnchors: String?

        func run() throws {
            let certificates: [Certificate]
            if let data = FileManager.default.contents(atPath: source) {
                guard data.count <= 1 << 20 else { throw ValidationError("\(source) is over 1 MiB") }
                let text = String(decoding: data, as: UTF8.self)
                certificates = text.contains("-----BEGIN")
                    ? try TrustDirectory.certificates(pem: text)
                    : [try Certificate(derEncoded: Array(data))]
            } else if let colon = source.lastIndex(of: ":"), let port = Int(source[source.index(after: colon)...]), (1...65535).contains(port) {
                let host = String(source[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                certificates = try EndpointCertificates.fetch(host: host, port: port, serverName: serverName)
            } else {
                throw ValidationError("\(source) is neither a readable file nor host:port")
            }
            guard !certificates.isEmpty else { throw ValidationError("\(source) holds no certificate") }
            for (index, certificate) in certificates.enumerated() {
                print(CertificateSummary(certificate).lines.joined(separator: "\n"))
                if index + 1 < certificates.count {
                    let next = certificates[index + 1]
                    let signed = next.publicKey.isValidSignature(certificate.signature, for: certificate)
                    print("  signed by the next certificate: \(signed ? "yes" : "NO")")
                }
                print("")
            }
            if let trustAnchors {
                guard let data = FileManager.default.contents(atPath: trustAnchors) else { throw ValidationError("cannot read \(trustAnchors)") }
                let anchors = try TrustDirectory.certificates(pem: String(decoding: data, as: UTF8.self))
                let chained = Self.chainsTo(anchors, certificates)
                print("chain to the trust anchors: \(chained ? "yes" : "NO")")
                if !chained { throw ExitCode(1) }
            }
        }

        /// Whether the last certificate of `chain` is signed by one of `anchors` (each link having
        /// been printed above).
        static func chainsTo(_ anchors: [Certificate], _ chain: [Certificate]) -> Bool {
            guard let top = chain.last else { return false }
            let linked = zip(chain, chain.dropFirst()).allSatisfy { $1.publicKey.isValidSignature($0.signature, for: $0) }
            return linked && anchors.contains { $0.subject == top.issuer && $0.publicKey.isValidSignature(top.signature, for: top) }
        }
    }

    /// `weft identity token create|revoke`.
    struct TokenCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "token",
            abstract: "Issue or revoke bootstrap tokens for workloads.",
            subcommands: [Create.self, Revoke.self])

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print a token that lets one workload obtain certificates for one identity.",
                discussion: """
                    The token is signed with the trust directory's token-signing key, has audience \
                    identity.l5d.io, and is accepted by weft-controller only for the identity it names. \
                    Put it in the file named by LINKERD2_PROXY_IDENTITY_TOKEN_FILE. Its ID is printed on \
                    standard error, for `weft identity token revoke`.
                    """)

            @Option(name: .customLong("dir"), help: "The trust directory.")
            var directory: String

            @Option(name: .customLong("workload"), help: "NAMESPACE/NAME: the identity NAME.NAMESPACE.serviceaccount.identity.linkerd.<trust domain>.")
            var workload: String?

            @Option(name: .customLong("identity"), help: "The identity itself (a DNS-like name or a SPIFFE ID), instead of --workload.")
            var identity: String?

            @Option(name: .customLong("trust-domain"), help: "The mesh's trust domain (for --workload).")
            var trustDomain = "cluster.local"

            @Option(name: .customLong("ttl"), help: "How long the token is valid (a Go duration: 30m, 24h, 1h30m).")
            var ttl = "24h"

            func run() throws {
                let name: String
                switch (workload, identity) {
                case (let workload?, nil):
                    let parts = workload.split(separator: "/", omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw ValidationError("--workload must be NAMESPACE/NAME") }
                    do {
                        name = try WorkloadIdentity.serviceAccount(String(parts[1]), namespace: String(parts[0]), trustDomain: trustDomain).description
                    } catch {
                        throw ValidationError("--workload \(workload): \(error)")
                    }
                case (nil, let identity?):
                    do { name = try WorkloadIdentity(parsing: identity).description } catch {
                        throw ValidationError("--identity \(identity): \(error)")
                    }
                default:
                    throw ValidationError("give exactly one of --workload and --identity")
                }
                let seconds = try Self.seconds(ttl)
                let now = Date()
                let token = BootstrapToken(identity: name, issuedAt: now, expires: now + seconds)
                let key = try TrustDirectory(path: directory).readTokenKey()
                print(try token.signed(with: key))
                FileHandle.standardError.write(Data("token \(token.id) for \(name), valid until \(token.expires)\n".utf8))
            }

            static func seconds(_ text: String) throws -> TimeInterval {
                guard case .success(let value) = GoDuration.parse(text), value.duration > .zero else {
                    throw ValidationError("invalid --ttl \"\(text)\": expected a positive duration such as 30m, 24h or 1h30m")
                }
                return value.duration.inSeconds
            }
        }

        struct Revoke: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop weft-controller from accepting a token (by its ID).")

            @Option(name: .customLong("dir"), help: "The trust directory.")
            var directory: String

            @Argument(help: "The token's ID, as printed by `token create`.")
            var id: String

            func run() throws {
                try TokenRevocations(directory: TrustDirectory(path: directory)).revoke(id)
                print("revoked \(id)")
            }
        }
    }
}
