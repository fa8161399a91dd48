import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import WeftAPI
import WeftStore
import X509

/// Keeps each ExternalWorkload's `Ready` condition true to its proxy: every interval the
/// controller asks the proxy's admin port (`<workloadIP>:4191`, or the port in the
/// `workload.weft.io/admin-port` annotation) for `/ready`. One 200 makes it Ready; two failed
/// probes in a row make it not Ready, with the reason (`ProxyNotReady` for another status,
/// `ProxyUnreachable` when nothing answers) — so a dead workload leaves its services' endpoints
/// within about three seconds. Workloads annotated `workload.weft.io/health-check: "none"` keep
/// the status they were applied with (Linkerd's behaviour).
public struct WorkloadHealth: ServiceLifecycle.Service {
    public static let adminPortAnnotation = "workload.weft.io/admin-port"
    public static let healthCheckAnnotation = "workload.weft.io/health-check"
    /// `"true"`: the proxy's admin port speaks TLS with the workload's certificate.
    public static let adminTLSAnnotation = "workload.weft.io/admin-tls"

    let store: any ResourceStore
    let interval: Duration
    let failuresBeforeNotReady: Int
    let probe: ReadinessProbe
    let metrics: ControllerMetrics
    let logger: Logger

    /// `anchors`: the trust anchors, for workloads whose proxy's admin port speaks TLS
    /// (`workload.weft.io/admin-tls: "true"`).
    public init(store: any ResourceStore, interval: Duration = .seconds(1), anchors: [Certificate] = [], metrics: ControllerMetrics, logger: Logger) {
        self.store = store
        self.interval = interval
        failuresBeforeNotReady = 2
        probe = ReadinessProbe(timeout: .milliseconds(800), anchors: anchors)
        self.metrics = metrics
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var failures: [ResourceKey: Int] = [:]
            while !Task.isCancelled {
                await self.round(failures: &failures)
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    private struct Target: Sendable {
        let key: ResourceKey
        let host: String
        let port: Int
        /// Over TLS, the identity the proxy must prove.
        let identity: String?
    }

    private func round(failures: inout [ResourceKey: Int]) async {
        let workloads = await store.snapshot().list(kind: ExternalWorkload.kind).compactMap { resource -> (ResourceKey, ExternalWorkload)? in
            guard case .externalWorkload(let workload) = resource,
                  workload.metadata.annotations?[Self.healthCheckAnnotation] != "none" else { return nil }
            return (ResourceKey(resource), workload)
        }
        let targets = workloads.compactMap { key, workload -> Target? in
            guard let ip = workload.spec.workloadIPs?.first?.ip else { return nil }
            let port = workload.metadata.annotations?[Self.adminPortAnnotation].flatMap(Int.init) ?? 4191
            let tls = workload.metadata.annotations?[Self.adminTLSAnnotation] == "true"
            return Target(key: key, host: ip, port: port, identity: tls ? workload.identity?.description ?? "" : nil)
        }
        let results = await withTaskGroup(of: (ResourceKey, ReadinessProbe.Result).self) { group in
            for target in targets {
                group.addTask { (target.key, await probe.probe(host: target.host, port: target.port, identity: target.identity)) }
            }
            var results: [ResourceKey: ReadinessProbe.Result] = [:]
            for await (key, result) in group { results[key] = result }
            return results
        }
        failures = failures.filter { results[$0.key] != nil }
        for (key, workload) in workloads {
            guard let result = results[key] else { continue }
            let condition: Condition
            switch result {
            case .status(200):
                metrics.probed("ready")
                failures[key] = 0
                condition = Condition(type: "Ready", status: .true, reason: "ProxyReady", message: "the proxy's /ready answered 200")
            case .status(let code):
                metrics.probed("not_ready")
                failures[key, default: 0] += 1
                guard failures[key]! >= failuresBeforeNotReady else { continue }
                condition = Condition(type: "Ready", status: .false, reason: "ProxyNotReady", message: "the proxy's /ready answered \(code)")
            case .unreachable(let reason):
                metrics.probed("unreachable")
                failures[key, default: 0] += 1
                guard failures[key]! >= failuresBeforeNotReady else { continue }
                condition = Condition(type: "Ready", status: .false, reason: "ProxyUnreachable", message: "no answer from the proxy's admin port: \(reason)")
            }
            await record(condition, for: workload, key: key)
        }
    }

    private func record(_ condition: Condition, for workload: ExternalWorkload, key: ResourceKey) async {
        let current = workload.status?.conditions?.first { $0.type == "Ready" }
        guard current?.status != condition.status || current?.reason != condition.reason else { return }
        var updated = workload
        var condition = condition
        condition.lastTransitionTime = Date().formatted(.iso8601)
        var conditions = (workload.status?.conditions ?? []).filter { $0.type != "Ready" }
        conditions.append(condition)
        updated.status = ExternalWorkload.Status(conditions: conditions)
        do {
            try await store.updateStatus(.externalWorkload(updated))
            logger.info("workload readiness changed", metadata: [
                "workload": "\(key)", "ready": "\(condition.status.rawValue)", "reason": "\(condition.reason ?? "")"])
        } catch {
            metrics.storeWriteFailed(error.code.rawValue)
            logger.warning("cannot record workload readiness", metadata: ["workload": "\(key)", "error": "\(error)"])
        }
    }
}
