import ArgumentParser
import Foundation
import WeftAPI
import WeftCore
import WeftIdentity
import X509

/// `weft check`: the mesh's health, checked as Linkerd's `linkerd check` does.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that the mesh works: controller, store, trust material, workloads, policy, versions.",
        discussion: """
            Prints each check with √ or × (and a hint for every ×), grouped as linkerd check does: \
            the controller is reachable and ready and its store writable; the trust anchors and \
            the issuer are valid, do not expire within 60 days (--expiry-warning), and the issuer \
            chains to an anchor; every registered workload's proxy is ready and presents a valid \
            certificate for its identity; policy objects are warned about (‼, not a failure) when \
            a Server selects no workload or an AuthorizationPolicy or ServerAuthorization refers \
            to something that does not exist; the controller, the proxies and this weft are the \
            same version. Exit status 1 if any check fails. Without a controller the trust material is \
            read from <home>/identity.
            """)

    @OptionGroup var access: MeshAccessOptions

    @Option(name: .customLong("expiry-warning"), help: "Days before expiry at which trust material fails the check.")
    var expiryDays = 60

    struct Report {
        var failures = 0
        var group = ""

        mutating func section(_ title: String) {
            print("\n\(title)\n" + String(repeating: "-", count: title.count))
        }

        mutating func check(_ passed: Bool, _ text: String, hint: String? = nil) {
            print("\(passed ? "√" : "×") \(text)")
            if !passed {
                failures += 1
                if let hint { print("    hint: \(hint)") }
            }
        }
    }

    /// Over TCP: the controller answers over TLS 1.3 with its certificate, and this host's clock
    /// agrees with the controller's within the certificates' 20 s allowance. False: go no further
    /// (unreachable, or this command may not read more without an operator certificate).
    private func remoteChecks(_ report: inout Report, client: ControllerClient, tls: ControllerTLS) -> Bool {
        let sent = Date()
        guard let response = try? client.exchange.request(.GET, "/v1/mesh") else {
            report.check(false, "the controller answers over TLS at \(client.exchange.endpoint)",
                         hint: "check the address, the network, and the pin (--ca-cert-hash) or the operator's ca.crt")
            return false
        }
        report.check(true, "the controller answers over TLS 1.3 at \(client.exchange.endpoint) as \(tls.presentedNames.current.joined(separator: ", "))")
        if let date = response.date {
            let skew = date.timeIntervalSince(sent.addingTimeInterval(Date().timeIntervalSince(sent) / 2))
            report.check(abs(skew) <= 20, "this host's clock is within 20 s of the controller's (\(String(format: "%+.0f", skew)) s)",
                         hint: "certificates allow 20 s of skew: synchronise the clocks (NTP)")
        }
        // This host's joined workloads, each read with its own bootstrap token.
        let joined = JoinedWorkload.all(in: access.home.weftHome)
        for workload in joined { workload.check(&report, client: client) }
        if response.status == 401 || response.status == 403 {
            report.check(false, "this command may read the controller (\(response.errorMessage.trimmingCharacters(in: .whitespacesAndNewlines)))",
                         hint: "give --operator DIR (weft identity operator create NAME on the controller's host)")
            return false
        }
        return true
    }

    /// The controller: over TCP its TLS and clock first; reachable, ready, its store writable.
    private func controllerChecks(_ report: inout Report, client: ControllerClient, home: WeftHome) throws -> MeshDescription? {
        report.section("weft-controller")
        var mesh: MeshDescription?
        if let tls = client.exchange.tls, !remoteChecks(&report, client: client, tls: tls) {
            print("\nStatus check results are ×")
            throw ExitCode.failure
        }
        do {
            mesh = try client.mesh()
            report.check(true, "the controller answers at \(client.exchange.endpoint)")
        } catch {
            report.check(false, "the controller answers at \(client.exchange.endpoint): \(error)",
                         hint: "start it with `weft up` (its log: \(home.log))")
        }
        if let mesh {
            let ready = HTTPExchange.Endpoint(parsing: mesh.adminAddress)?.readyStatus(timeout: .seconds(2)) == 200
            report.check(ready, "the controller is ready (http://\(mesh.adminAddress)/ready)", hint: "see \(home.log)")
            do {
                _ = try client.expectOK(.POST, "/v1/store/check")
                report.check(true, "the store is writable")
            } catch {
                report.check(false, "the store is writable: \(error)", hint: "free disk space, or check the store directory's permissions")
            }
        }
        return mesh
    }

    func run() throws {
        var report = Report()
        let home = access.home.weftHome
        let client = try access.client()

        let mesh = try controllerChecks(&report, client: client, home: home)

        report.section("weft-identity")
        var anchors: [Certificate] = []
        do {
            let (anchorPEM, issuerPEM) = try trustMaterial(mesh, home)
            anchors = try TrustDirectory.certificates(pem: anchorPEM)
            let issuer = try TrustDirectory.certificates(pem: issuerPEM).first
            checkValidity(&report, "trust anchor", anchors)
            if let issuer {
                checkValidity(&report, "issuer", [issuer])
                report.check(IdentityCommand.InspectCommand.chainsTo(anchors, [issuer]), "the issuer chains to a trust anchor",
                             hint: "issue a new issuer from the anchor (weft identity init in a new directory makes a matching pair)")
            } else {
                report.check(false, "the issuer certificate can be read")
            }
        } catch {
            report.check(false, "the trust material can be read: \(error)", hint: "`weft up` creates it in \(home.identityDirectory)")
        }

        report.section("weft-workloads")
        var scrapes: [ProxyScrape] = []
        if mesh != nil, let inventory = try? MeshInventory.load(client) {
            if inventory.workloads.isEmpty { print("(no workloads registered)") }
            scrapes = ProxyScrape.all(inventory.workloads)
            for workload in inventory.workloads {
                let name = workload.qualifiedName
                let readyStatus = try? workload.adminExchange(timeout: .seconds(2)).request(.GET, "/ready").status
                report.check(readyStatus == 200, "\(name): the proxy is ready (http://\(workload.ip):\(workload.adminPort)/ready)",
                             hint: readyStatus == nil
                                 ? "its proxy does not answer: is `weft run` for it still running? (proxy log: \(home.workloadDirectory(namespace: workload.namespace, name: workload.name))/proxy.log)"
                                 : "it answered \(readyStatus!): it has no certificate yet, see its proxy log")
                if readyStatus == 200, let identity = workload.identity {
                    checkCertificate(&report, workload, identity: identity, anchors: anchors)
                }
            }
        } else {
            report.check(false, "the workloads can be listed", hint: "the controller must be running")
        }

        checkPolicy(&report, client, reachable: mesh != nil)

        report.section("weft-version")
        if let mesh {
            report.check(mesh.version == WeftRelease.version, "weft \(WeftRelease.version) and weft-controller \(mesh.version) are the same version",
                         hint: "use the weft and weft-controller of one build")
            let versions = scrapes.compactMap { scrape in scrape.values("proxy_build_info").first?.labels["version"].map { (scrape.workload.qualifiedName, $0) } }
            let odd = versions.filter { $0.1 != mesh.version }
            report.check(odd.isEmpty, "every proxy runs \(mesh.version)" + (odd.isEmpty ? "" : ": " + odd.map { "\($0.0) runs \($0.1)" }.joined(separator: ", ")),
                         hint: "restart those workloads with this build's weft-proxy")
        } else {
            report.check(false, "versions can be compared", hint: "the controller must be running")
        }

        print("\nStatus check results are \(report.failures == 0 ? "√" : "×")")
        if report.failures > 0 { throw ExitCode.failure }
    }

    /// Policy objects that select or name nothing: warnings (‼), not failures.
    private func checkPolicy(_ report: inout Report, _ client: ControllerClient, reachable: Bool) {
        report.section("weft-policy")
        guard reachable else {
            report.check(false, "the policy objects can be read", hint: "the controller must be running")
            return
        }
        do {
            let warnings = try PolicyReferences.load(client).warnings
            for warning in warnings { print("‼ \(warning)") }
            if warnings.isEmpty { report.check(true, "every Server selects a workload and every policy's references exist") }
        } catch {
            report.check(false, "the policy objects can be read: \(error)", hint: "the controller must be running")
        }
    }

    /// The anchors and issuer, PEM: from the controller, else from the home.
    private func trustMaterial(_ mesh: MeshDescription?, _ home: WeftHome) throws -> (String, String) {
        if let identity = mesh?.identity { return (identity.trustAnchorsPEM, identity.issuerPEM) }
        let directory = TrustDirectory(path: home.identityDirectory)
        func read(_ name: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: directory.file(name)) else { throw ValidationError("cannot read \(directory.file(name))") }
            return String(decoding: data, as: UTF8.self)
        }
        return (try read(TrustDirectory.anchors), try read(TrustDirectory.issuerCertificate))
    }

    private func checkValidity(_ report: inout Report, _ what: String, _ certificates: [Certificate]) {
        let now = Date()
        for certificate in certificates {
            let valid = certificate.notValidBefore <= now && now < certificate.notValidAfter
            report.check(valid, "the \(what) \(certificate.subject) is valid (\(certificate.notValidBefore) to \(certificate.notValidAfter))",
                         hint: what == "issuer" ? "make a new issuer: the controller cannot issue certificates with this one"
                                                : "make new trust material and re-issue every certificate")
            if valid {
                let days = Int(certificate.notValidAfter.timeIntervalSince(now) / 86_400)
                report.check(days >= expiryDays, "the \(what) does not expire within \(expiryDays) days (\(days) left)",
                             hint: "rotate it before it expires")
            }
        }
    }

    /// The certificate a workload's proxy presents for its identity.
    private func checkCertificate(_ report: inout Report, _ workload: MeshWorkload, identity: String, anchors: [Certificate]) {
        let name = workload.qualifiedName
        do {
            let chain = try EndpointCertificates.fetch(host: workload.ip, port: 4143, serverName: identity, timeout: .seconds(3))
            guard let leaf = chain.first else { throw ValidationError("no certificate") }
            let now = Date()
            let names = (try? leaf.extensions.subjectAlternativeNames).map { $0.map { "\($0)" } } ?? []
            let named = names.contains { $0.contains(identity) }
            let valid = leaf.notValidBefore <= now && now < leaf.notValidAfter
            let chained = IdentityCommand.InspectCommand.chainsTo(anchors, chain)
            report.check(named && valid && chained,
                         "\(name): certificate for \(identity), valid until \(leaf.notValidAfter)"
                             + (named ? "" : ", but it names \(names.joined(separator: ", "))") + (valid ? "" : ", but it is not valid now")
                             + (chained ? "" : ", but it does not chain to the trust anchors"),
                         hint: "the proxy renews its certificate from the identity service: see its proxy log")
        } catch {
            report.check(false, "\(name): presents a certificate on \(workload.ip):4143: \(error)", hint: "see its proxy log")
        }
    }
}
