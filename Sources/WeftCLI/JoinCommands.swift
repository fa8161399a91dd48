import ArgumentParser
import Crypto
import Foundation
import WeftAPI
import WeftCore
import WeftIdentity

/// `weft token`: join tokens, with which other hosts join the mesh (`weft run --join-token`).
struct JoinTokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Join tokens: create, list and revoke them.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint a join token for hosts joining one namespace.",
            discussion: """
                The controller keeps only a hash of it: the token is printed once, with the pin of \
                the controller's trust anchor, which the joining host checks the controller's TLS \
                chain against (as kubeadm's --discovery-token-ca-cert-hash). On the host: \
                weft run --controller HOST:PORT --join-token TOKEN --ca-cert-hash PIN --capture --ip ADDRESS ...
                """)

        @Flag(name: .long, help: "A join token (the only kind this command makes; bootstrap tokens are `weft identity token`).")
        var join = false

        @Option(name: [.customShort("n"), .long], help: "The namespace its workloads join.")
        var namespace: String

        @Option(name: .customLong("name-prefix"), help: "Workload names must start with this.")
        var namePrefix = ""

        @Option(name: .long, help: "How long it is valid (a Go duration, at most 720h).")
        var ttl = "1h"

        @Option(name: .long, help: "How many registrations it allows (default: any number until it expires).")
        var uses: Int?

        @OptionGroup var controller: ControllerOptions

        func run() throws {
            guard join else { throw ValidationError("give --join (bootstrap tokens are made by `weft identity token create`)") }
            guard case .success(let value) = GoDuration.parse(ttl), value.duration > .zero else {
                throw ValidationError("invalid --ttl \"\(ttl)\": expected a positive duration such as 30m, 1h or 24h")
            }
            let request = JoinTokenRequest(namespace: namespace, namePrefix: namePrefix, ttlSeconds: Int(value.duration.inSeconds), uses: uses)
            let answer = try JSONDecoder().decode(JoinTokenAnswer.self, from: try controller.client().expectOK(
                .POST, "/v1/join-tokens", body: try JSONEncoder().encode(request)))
            print("""
                join token:   \(answer.token)
                id:           \(answer.id) (weft token revoke \(answer.id))
                namespace:    \(namespace)\(namePrefix.isEmpty ? "" : ", names starting with \(namePrefix)")
                expires:      \(answer.expires)\(uses.map { ", \($0) use\($0 == 1 ? "" : "s")" } ?? "")
                ca-cert-hash: \(answer.caCertHash)

                On the joining host:
                  weft run --controller <this controller's --api-addr> --join-token \(answer.token) \\
                    --ca-cert-hash \(answer.caCertHash) --namespace \(namespace) --name \(namePrefix)NAME ...
                """)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List join tokens (never their secrets).")

        @OptionGroup var controller: ControllerOptions

        func run() throws {
            let body = try controller.client().expectOK(.GET, "/v1/join-tokens")
            let items = (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["items"] as? [[String: Any]] ?? []
            print("ID                NAMESPACE        PREFIX       USES  LEFT  EXPIRES               STATE")
            for item in items {
                let left = (item["usesLeft"] as? Int).map(String.init) ?? "-"
                let state = item["revoked"] as? Bool == true ? "revoked" : left == "0" ? "used up" : "active"
                func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
                print(pad(item["id"] as? String ?? "", 18) + pad(item["namespace"] as? String ?? "", 17) + pad(item["namePrefix"] as? String ?? "", 13)
                      + pad(String(item["uses"] as? Int ?? 0), 6) + pad(left, 6) + pad(item["expires"] as? String ?? "", 22) + state)
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a join token: no host registers with it any more.")

        @Argument(help: "The token's ID (from `weft token create` or `weft token list`).")
        var id: String

        @OptionGroup var controller: ControllerOptions

        func run() throws {
            _ = try controller.client().expectOK(.DELETE, "/v1/join-tokens?id=\(id)")
            print("revoked join token \(id)")
        }
    }
}

/// `weft identity operator create NAME`: an operator's certificate for the management API over TCP.
struct OperatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Operator certificates for the management API over TCP.",
        subcommands: [Create.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an operator certificate (spiffe://<trust domain>/weft/operator/NAME) from the trust directory.",
            discussion: """
                Writes operator.crt (its chain), operator.key and ca.crt (the trust anchors) into --out \
                (made 0700, the key 0600). Then: weft apply --controller HOST:PORT --operator DIR ...
                """)

        @Argument(help: "The operator's name (a DNS label).")
        var name: String

        @Option(name: .customLong("dir"), help: "The trust directory (with the issuer's key).")
        var directory: String

        @Option(name: .customLong("out"), help: "Where to write the certificate and key.")
        var out: String

        @Option(name: .customLong("trust-domain"), help: "The mesh's trust domain.")
        var trustDomain = "cluster.local"

        @Option(name: .long, help: "How long the certificate is valid, in days.")
        var days = 30

        func run() throws {
            guard RunCommand.isDNSLabel(name) else { throw ValidationError("the name must be a DNS label") }
            guard (1...365).contains(days) else { throw ValidationError("--days must be 1 to 365") }
            let trust = TrustDirectory(path: directory)
            let anchors = try trust.readAnchors()
            let (issuer, issuerKey) = try trust.readIssuer(anchors: anchors)
            let key = P256.Signing.PrivateKey()
            let identity = try WorkloadIdentity(parsing: "spiffe://\(trustDomain)/weft/operator/\(name)")
            let issued = try LeafIssuer(issuer: issuer, issuerKey: issuerKey, lifetime: Double(days) * 86_400).issue(for: identity, key: key.publicKey)
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let files: [(String, String, Int16)] = [
                ("operator.crt", try issued.pemChain().map { $0 + "\n" }.joined(), 0o644), ("operator.key", key.pemRepresentation + "\n", 0o600),
                ("ca.crt", try anchors.map { try $0.serializeAsPEM().pemString + "\n" }.joined(), 0o644),
            ]
            for (file, text, mode) in files {
                guard FileManager.default.createFile(atPath: out + "/" + file, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
                    throw ValidationError("cannot write \(out)/\(file)")
                }
            }
            print("wrote \(out)/operator.crt and operator.key for \(identity), valid until \(issued.validUntil)")
        }
    }
}
