import Dispatch
import Foundation
import NIOCore
import Synchronization

/// One reading of a workload proxy's `/metrics`.
struct ProxyScrape {
    let workload: MeshWorkload
    let time: Date
    /// Nil when the proxy did not answer (its error is in `failure`).
    let samples: [MetricSample]?
    let failure: String?

    var reachable: Bool { samples != nil }
    /// Which proxy was read.
    var source: String { workload.qualifiedName }

    /// The samples of one family whose labels include all of `matching`.
    func values(_ name: String, _ matching: [String: String] = [:]) -> [MetricSample] {
        (samples ?? []).filter { sample in sample.name == name && matching.allSatisfy { sample.labels[$0.key] == $0.value } }
    }

    /// Reads every workload's proxy at once (each with a 2-second limit).
    static func all(_ workloads: [MeshWorkload]) -> [ProxyScrape] {
        let results = Mutex([Int: ProxyScrape]())
        DispatchQueue.concurrentPerform(iterations: workloads.count) { index in
            let scrape = one(workloads[index])
            results.withLock { $0[index] = scrape }
        }
        return results.withLock { found in workloads.indices.compactMap { found[$0] } }
    }

    static func one(_ workload: MeshWorkload) -> ProxyScrape {
        do {
            let response = try workload.adminExchange(timeout: .seconds(2)).request(.GET, "/metrics")
            guard response.status == 200 else {
                return ProxyScrape(workload: workload, time: Date(), samples: nil, failure: "/metrics answered \(response.status)")
            }
            return ProxyScrape(workload: workload, time: Date(), samples: try PrometheusText.parse(response.text), failure: nil)
        } catch {
            return ProxyScrape(workload: workload, time: Date(), samples: nil, failure: "\(error)")
        }
    }
}
