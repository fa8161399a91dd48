import Foundation

/// The iptables rules that send a host's (or network namespace's) TCP traffic through its proxy,
/// as Linkerd's proxy-init installs them: table nat, chains `PROXY_INIT_REDIRECT` (from
/// PREROUTING: ignored ports and subnets return, everything else to the inbound port) and
/// `PROXY_INIT_OUTPUT` (from OUTPUT: the proxy's own UID, loopback and ignored ports return,
/// everything else to the outbound port). Every rule carries a `proxy-init/...` comment.
struct TrafficCapture: Sendable {
    struct CaptureError: Error, CustomStringConvertible {
        let description: String
    }

    var proxyUID = 2102
    var inboundPort = 4143
    var outboundPort = 4140
    /// Ports and ranges (`25`, `3306-3310`).
    var inboundPortsToIgnore = ["4190", "4191"]
    var outboundPortsToIgnore: [String] = []
    var subnetsToIgnore: [String] = []
    var iptables = "iptables"
    /// Also the same rules with this ip6tables (IPv4 subnets to ignore left out), for hosts with
    /// IPv6 addresses (Linkerd 2.16's proxy-init does the same when IPv6 is on).
    var ip6tables: String?

    /// Checks the values: numbers in range, ports and ranges, CIDR subnets.
    func validate() throws {
        for (name, port) in [("--incoming-proxy-port", inboundPort), ("--outgoing-proxy-port", outboundPort)] where !(1...65535).contains(port) {
            throw CaptureError(description: "\(name) must be a port (1-65535), got \(port)")
        }
        guard proxyUID >= 0 else { throw CaptureError(description: "--proxy-uid must be a user ID") }
        for port in inboundPortsToIgnore + outboundPortsToIgnore {
            let bounds = port.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...2).contains(bounds.count), bounds.allSatisfy({ $0.map { (1...65535).contains($0) } ?? false }) else {
                throw CaptureError(description: "ports to ignore must be ports and ranges like 25,3306-3310, got '\(port)'")
            }
        }
        for subnet in subnetsToIgnore {
            let parts = subnet.split(separator: "/")
            guard parts.count == 2, let bits = Int(parts[1]), (0...32).contains(bits),
                  parts[0].split(separator: ".").count == 4, parts[0].split(separator: ".").allSatisfy({ UInt8($0) != nil }) else {
                throw CaptureError(description: "subnets to ignore must be IPv4 CIDRs like 10.0.0.0/8, got '\(subnet)'")
            }
        }
    }

    /// `multiport` takes at most 15 ports, a range counting two: the ports in groups that fit.
    static func portGroups(_ ports: [String]) -> [String] {
        var groups: [String] = []
        var current: [String] = []
        var cost = 0
        for port in ports {
            let itemCost = port.contains("-") ? 2 : 1
            if cost + itemCost > 15 {
                groups.append(current.joined(separator: ","))
                current = []
                cost = 0
            }
            current.append(port.replacingOccurrences(of: "-", with: ":"))
            cost += itemCost
        }
        if !current.isEmpty { groups.append(current.joined(separator: ",")) }
        return groups
    }

    private static func tag(_ name: String) -> [String] { ["-m", "comment", "--comment", "proxy-init/\(name)"] }

    /// The commands that install the rules (after `removal`), each an iptables argument list.
    var installation: [[String]] {
        var rules: [[String]] = [["-N", "PROXY_INIT_REDIRECT"]]
        for group in Self.portGroups(inboundPortsToIgnore) {
            rules.append(["-A", "PROXY_INIT_REDIRECT", "-p", "tcp", "-m", "multiport", "--dports", group, "-j", "RETURN"] + Self.tag("ignore-port"))
        }
        for subnet in subnetsToIgnore {
            rules.append(["-A", "PROXY_INIT_REDIRECT", "-s", subnet, "-j", "RETURN"] + Self.tag("ignore-subnet"))
        }
        rules.append(["-A", "PROXY_INIT_REDIRECT", "-p", "tcp", "-j", "REDIRECT", "--to-port", String(inboundPort)]
                     + Self.tag("redirect-all-incoming-to-proxy-port"))
        rules.append(["-A", "PREROUTING", "-j", "PROXY_INIT_REDIRECT"] + Self.tag("install-prerouting"))
        rules.append(["-N", "PROXY_INIT_OUTPUT"])
        rules.append(["-A", "PROXY_INIT_OUTPUT", "-m", "owner", "--uid-owner", String(proxyUID), "-j", "RETURN"] + Self.tag("ignore-proxy-user-id"))
        rules.append(["-A", "PROXY_INIT_OUTPUT", "-o", "lo", "-j", "RETURN"] + Self.tag("ignore-loopback"))
        for group in Self.portGroups(outboundPortsToIgnore) {
            rules.append(["-A", "PROXY_INIT_OUTPUT", "-p", "tcp", "-m", "multiport", "--dports", group, "-j", "RETURN"] + Self.tag("ignore-port"))
        }
        rules.append(["-A", "PROXY_INIT_OUTPUT", "-p", "tcp", "-j", "REDIRECT", "--to-port", String(outboundPort)]
                     + Self.tag("redirect-all-outgoing-to-proxy-port"))
        rules.append(["-A", "OUTPUT", "-j", "PROXY_INIT_OUTPUT"] + Self.tag("install-output"))
        return rules
    }

    /// The commands that remove the rules (each may fail harmlessly when they are not there).
    static let removal: [[String]] = [
        ["-D", "PREROUTING", "-j", "PROXY_INIT_REDIRECT"] + tag("install-prerouting"),
        ["-D", "OUTPUT", "-j", "PROXY_INIT_OUTPUT"] + tag("install-output"),
        ["-F", "PROXY_INIT_REDIRECT"], ["-X", "PROXY_INIT_REDIRECT"], ["-F", "PROXY_INIT_OUTPUT"], ["-X", "PROXY_INIT_OUTPUT"],
    ]

    /// Whether the chains exist (another capture is installed).
    func isInstalled() -> Bool {
        (try? run(["-S", "PROXY_INIT_OUTPUT"])) != nil
    }

    /// Installs the rules (IPv4, and IPv6 when asked), replacing any earlier ones; on a failure
    /// removes what it added.
    func install() throws {
        try validate()
        remove()
        do {
            for rule in installation { try run(rule) }
            if let ip6tables {
                var v6 = self
                v6.subnetsToIgnore = []
                for rule in v6.installation { try run(rule, with: ip6tables) }
            }
        } catch {
            remove()
            throw error
        }
    }

    func remove() {
        for rule in Self.removal {
            _ = try? run(rule)
            if let ip6tables { _ = try? run(rule, with: ip6tables) }
        }
    }

    /// `iptables -w -t nat ARGS` (or the given command); its error output in the thrown error.
    private func run(_ arguments: [String], with command: String? = nil) throws {
        let iptables = command ?? iptables
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("weft-iptables-\(getpid())-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let child = try SpawnedProcess.spawn(iptables, ["-w", "-t", "nat"] + arguments, environment: ProcessInfo.processInfo.environment,
                                           group: .inherit, output: output)
        let status = child.wait()
        guard status == 0 else {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw CaptureError(description: "\(iptables) -t nat \(arguments.joined(separator: " ")): exit status \(status): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
