import Foundation
import WeftAPI
#if canImport(Glibc)
import Glibc
#endif

extension MeshedWorkload {
    /// Registers the workload and starts its proxy, waiting until it is ready.
    static func register(_ options: RunCommand, client: ControllerClient, home: WeftHome) throws -> MeshedWorkload {
        let mesh: MeshDescription
        let plan: WorkloadRegistration
        let createdService: Bool
        var joinedToken: String?
        if let joinToken = options.joinToken {
            // Another host: the join token registers the workload and brings its bootstrap token.
            plan = try WorkloadRegistration(options, client: client, trustDomain: options.trustDomain)
            let answer = try plan.join(client: client, token: joinToken)
            client.exchange.bearer?.replace(with: answer.bootstrapToken.token)
            (mesh, createdService, joinedToken) = (answer.mesh, answer.createdService, answer.bootstrapToken.token)
        } else {
            mesh = try client.mesh()
            plan = try WorkloadRegistration(options, client: client, trustDomain: mesh.trustDomain)
            createdService = try plan.applyObjects(client: client)
        }
        guard let meshIdentity = mesh.identity else {
            throw RunError(description: "the controller runs without identity (--identity-dir); `weft up` starts one with it")
        }

        // The proxy reads its token; in transparent mode it runs as its own user, which cannot
        // enter the home (0700), so its token lives in a directory of its own.
        let directory = home.workloadDirectory(namespace: plan.namespace, name: plan.name)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let tokenDirectory = plan.capture != nil
            ? FileManager.default.temporaryDirectory.path + "/weft-token-\(plan.namespace).\(plan.name)-\(getpid())" : directory
        if tokenDirectory != directory {
            try FileManager.default.createDirectory(atPath: tokenDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let tokenFile = tokenDirectory + "/token"
        let proxyUser = plan.capture.map { uid_t($0.proxyUID) }
        if let proxyUser { chown(tokenDirectory, proxyUser, gid_t(proxyUser)) }
        if let joinedToken {
            try writeToken(joinedToken, to: tokenFile, owner: proxyUser)
        } else {
            try writeToken(client: client, identity: plan.identity, to: tokenFile, owner: proxyUser)
        }
        let proxy: SpawnedProcess
        do {
            // The capture rules before the proxy, as Linkerd's proxy-init runs before its proxy: a
            // connection the proxy opened before the rules existed would be picked up mid-stream
            // by conntrack once they do, and the controller's next packet on it redirected to the
            // inbound port (reset there, never reaching the proxy, whose stream then hangs).
            try plan.capture?.install()
            let environment = proxyEnvironment(plan, mesh: mesh, identity: meshIdentity, tokenFile: tokenFile,
                                               logLevel: options.proxyLogLevel, client: client)
            proxy = try startProxy(environment: environment, user: proxyUser, log: directory + "/proxy.log")
        } catch {
            plan.capture?.remove()
            unregister(client: client, namespace: plan.namespace, name: plan.name, service: createdService ? plan.serviceName : nil)
            try? FileManager.default.removeItem(atPath: tokenDirectory == directory ? tokenFile : tokenDirectory)
            throw error
        }
        let workload = MeshedWorkload(client: client, namespace: plan.namespace, name: plan.name, ip: plan.ip, identity: plan.identity,
                                      directory: directory, environment: commandEnvironment(plan), proxy: proxy,
                                      createdService: createdService, serviceName: plan.serviceName, capture: plan.capture,
                                      tokenFile: tokenFile)
        do {
            let adminTrust = plan.adminTLS ? try ControllerTLS(anchorsPEM: meshIdentity.trustAnchorsPEM, identity: plan.identity) : nil
            try workload.waitUntilReady(timeout: options.readyTimeout, adminTrust: adminTrust)
        } catch {
            plan.capture?.remove()
            throw error
        }
        if options.joinToken != nil {
            try? JoinedWorkload(namespace: plan.namespace, name: plan.name, tokenFile: tokenFile).write(into: directory)
        }
        announce(plan, directory: directory)
        return workload
    }

    /// The proxy's `LINKERD2_PROXY_*` configuration: its identity, the controller's addresses (as
    /// this command reached the controller), its listeners on the workload's address — or, in
    /// transparent mode, where redirected connections arrive — and its ports and forwards.
    private static func proxyEnvironment(_ plan: WorkloadRegistration, mesh: MeshDescription, identity: MeshDescription.Identity,
                                         tokenFile: String, logLevel: String, client: ControllerClient) -> [String: String] {
        let controllerHost: String? = if case .tcp(let host, _) = client.exchange.endpoint { host } else { nil }
        // A wildcard address the controller listens on is reached where this command reached it.
        func reachable(_ address: String) -> String {
            guard let controllerHost else { return address }
            let shown = controllerHost.contains(":") ? "[\(controllerHost)]" : controllerHost
            for wildcard in ["0.0.0.0:", "[::]:"] where address.hasPrefix(wildcard) {
                return shown + address.dropFirst(wildcard.count - 1)
            }
            return address
        }
        let (ports, at) = (plan.ports, { (port: Int) in WorkloadRegistration.hostPort(plan.ip, port) })
        let context = "{\"ns\":\"\(plan.namespace)\",\"external_workload\":\"\(plan.name)\"}"
        var environment = [
            "LINKERD2_PROXY_LOG": logLevel,
            "LINKERD2_PROXY_IDENTITY_TRUST_ANCHORS": identity.trustAnchorsPEM,
            "LINKERD2_PROXY_IDENTITY_LOCAL_NAME": plan.identity,
            "LINKERD2_PROXY_IDENTITY_TOKEN_FILE": tokenFile,
            "LINKERD2_PROXY_IDENTITY_SVC_ADDR": reachable(identity.address),
            "LINKERD2_PROXY_IDENTITY_SVC_NAME": identity.serverName,
            "LINKERD2_PROXY_DESTINATION_SVC_ADDR": reachable(mesh.destinationAddress),
            "LINKERD2_PROXY_DESTINATION_CONTEXT": context,
            "LINKERD2_PROXY_DESTINATION_PROFILE_SUFFIXES": "svc.\(mesh.clusterDomain).",
            "LINKERD2_PROXY_POLICY_SVC_ADDR": reachable(mesh.policyAddress),
            "LINKERD2_PROXY_POLICY_WORKLOAD": context,
            "LINKERD2_PROXY_INBOUND_LISTEN_ADDR": at(4143),
            "LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR": at(4140),
            "LINKERD2_PROXY_ADMIN_LISTEN_ADDR": at(4191),
            "LINKERD2_PROXY_INGRESS_MODE": "true",
            "LINKERD2_PROXY_SHUTDOWN_GRACE_PERIOD": "5s",
        ]
        if plan.capture != nil {
            // Transparent: connections come redirected, with their original destinations.
            // With IPv6, a listener per family (ip6tables redirects to [::]:4143 and [::1]:4140),
            // and the admin port on both (a dual-stack socket).
            environment["LINKERD2_PROXY_INBOUND_LISTEN_ADDR"] = "0.0.0.0:4143"
            environment["LINKERD2_PROXY_OUTBOUND_LISTEN_ADDR"] = "127.0.0.1:4140"
            environment["LINKERD2_PROXY_ADMIN_LISTEN_ADDR"] = plan.hasIPv6 ? "[::]:4191" : "0.0.0.0:4191"
            if plan.hasIPv6 {
                environment["LINKERD2_PROXY_INBOUND_LISTEN_ADDRS"] = "0.0.0.0:4143,[::]:4143"
                environment["LINKERD2_PROXY_OUTBOUND_LISTEN_ADDRS"] = "127.0.0.1:4140,[::1]:4140"
            }
            // Ingress mode stays on: redirected HTTP goes where its Host says (its original
            // destination, for a plain address), other redirected traffic to its original
            // destination, and requests sent to 127.0.0.1:4140 itself reach services by name.
        } else if !ports.isEmpty {
            environment["WEFT_PROXY_INBOUND_PORTS"] = ports.map { "\(at($0.mesh))=127.0.0.1:\($0.app)" }.joined(separator: ",")
        }
        if !ports.isEmpty { environment["LINKERD2_PROXY_INBOUND_PORTS"] = ports.map { String($0.mesh) }.joined(separator: ",") }
        if !plan.forwards.isEmpty {
            environment["WEFT_PROXY_OUTBOUND_PORTS"] = plan.forwards.map { "\(at($0.local))=\($0.target)" }.joined(separator: ",")
        }
        // The destination and policy services over mutual TLS, when the controller serves them so.
        if let name = mesh.destinationServerName { environment["LINKERD2_PROXY_DESTINATION_SVC_NAME"] = name }
        if let name = mesh.policyServerName { environment["LINKERD2_PROXY_POLICY_SVC_NAME"] = name }
        if plan.adminTLS { environment["WEFT_PROXY_ADMIN_TLS"] = "true" }
        if let path = ProcessInfo.processInfo.environment["PATH"] { environment["PATH"] = path }
        return environment
    }

    /// Starts weft-proxy in its own process group, as `user` (transparent mode) when given.
    private static func startProxy(environment: [String: String], user: uid_t?, log: String) throws -> SpawnedProcess {
        let program = SpawnedProcess.sibling("weft-proxy")
        if let user {
            return try SpawnedProcess.spawn("setpriv", ["--reuid", String(user), "--regid", String(user), "--clear-groups", program],
                                            environment: environment, group: .own, output: log)
        }
        return try SpawnedProcess.spawn(program, [], environment: environment, group: .own, output: log)
    }

    /// What the command runs with: this process's environment and the workload's addresses.
    private static func commandEnvironment(_ plan: WorkloadRegistration) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["WEFT_WORKLOAD_IP"] = plan.ip
        environment["WEFT_WORKLOAD"] = "\(plan.namespace)/\(plan.name)"
        environment["WEFT_IDENTITY"] = plan.identity
        environment["WEFT_OUTBOUND_ADDR"] = plan.capture == nil ? WorkloadRegistration.hostPort(plan.ip, 4140) : "127.0.0.1:4140"
        if let first = plan.ports.first {
            environment["PORT"] = String(first.app)
            environment["WEFT_APP_PORT"] = String(first.app)
            environment["WEFT_APP_PORTS"] = plan.ports.map { "\($0.mesh)=\($0.app)" }.joined(separator: ",")
        }
        return environment
    }

    /// Waits until the proxy has its certificate and listeners and the controller has seen it
    /// ready (only then is it an endpoint for peers); on failure, the registration is undone.
    private func waitUntilReady(timeout: Double, adminTrust: ControllerTLS?) throws {
        var admin = HTTPExchange(endpoint: .tcp(host: ip, port: 4191), timeout: .seconds(1))
        admin.tls = adminTrust
        let deadline = Date() + timeout
        while true {
            if let status = proxy.poll() {
                let log = SpawnedProcess.outputTail(directory + "/proxy.log")
                abandon()
                throw RunError(description: "weft-proxy exited with status \(status):\n\(log)")
            }
            if (try? admin.request(.GET, "/ready").status) == 200,
               (try? MeshWorkload.all(from: client.objects(kind: "ExternalWorkload", namespace: namespace, name: name)))?.first?.ready == true {
                return
            }
            if Date() > deadline {
                _ = proxy.stop(grace: 2)
                abandon()
                throw RunError(description: "weft-proxy was not ready within \(Int(timeout))s; see \(directory)/proxy.log")
            }
            usleep(50_000)
        }
    }

    /// Tells the user what is meshed where.
    private static func announce(_ plan: WorkloadRegistration, directory: String) {
        let (ip, ports) = (plan.ip, plan.ports)
        let portText = plan.capture != nil
            ? "every TCP connection here (iptables), app ports " + ports.map { String($0.mesh) }.joined(separator: ",") + "; outbound 127.0.0.1:4140"
            : ports.map { "\(ip):\($0.mesh) → app 127.0.0.1:\($0.app)" }.joined(separator: ", ") + "; outbound \(ip):4140"
        FileHandle.standardError.write(Data("""
            weft run: \(plan.namespace)/\(plan.name) is in the mesh as \(plan.identity)
              inbound \(portText.isEmpty ? "(no ports)" : portText); admin http://\(WorkloadRegistration.hostPort(ip, 4191)); proxy log \(directory)/proxy.log

            """.utf8))
    }
}
