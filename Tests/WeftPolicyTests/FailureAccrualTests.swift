import Testing
import WeftPolicy
import WeftTesting

/// Failure accrual on a manual clock, and the balancer's view of failing endpoints.
@Suite("Failure accrual")
struct FailureAccrualTests {
    static let accrual = ClientPolicy.FailureAccrual(maximumFailures: 7, minimumPenalty: .seconds(1), maximumPenalty: .seconds(4),
                                                     jitterRatio: 0)

    @Test func sevenFailuresEjectThenOneProbationRequestDecides() {
        let clock = ManualClock()
        var random = SeededRandom(seed: 1)
        var load = EndpointLoad(now: clock.now)
        func fail() -> Bool {
            load.picked(now: clock.now, staleAfter: 1_000_000_000)
            load.finished(rttNanoseconds: 1_000_000, now: clock.now, failed: true)
            return load.accrue(failed: true, now: clock.now, accrual: Self.accrual, using: &random)
        }
        for _ in 0..<6 { #expect(!fail()) }
        #expect(fail())  // the 7th
        #expect(load.isEjected(now: clock.now))
        clock.advance(by: .milliseconds(999))
        #expect(load.isEjected(now: clock.now))
        clock.advance(by: .milliseconds(1))
        #expect(!load.isEjected(now: clock.now))
        // Probation: one request out keeps every other away.
        load.picked(now: clock.now, staleAfter: 1_000_000_000)
        #expect(load.isEjected(now: clock.now))
        load.finished(rttNanoseconds: 1_000_000, now: clock.now, failed: true)
        #expect(load.accrue(failed: true, now: clock.now, accrual: Self.accrual, using: &random))
        // Ejected again for twice the penalty, then up to the maximum.
        clock.advance(by: .milliseconds(1_999))
        #expect(load.isEjected(now: clock.now))
        clock.advance(by: .milliseconds(1))
        #expect(!load.isEjected(now: clock.now))
        load.picked(now: clock.now, staleAfter: 1_000_000_000)
        load.finished(rttNanoseconds: 1_000_000, now: clock.now, failed: false)
        #expect(load.accrue(failed: false, now: clock.now, accrual: Self.accrual, using: &random))  // restored
        #expect(!load.isEjected(now: clock.now) && !load.onProbation)
        for _ in 0..<6 { #expect(!fail()) }
        #expect(fail())
        clock.advance(by: .milliseconds(1_000))
        #expect(!load.isEjected(now: clock.now))  // the penalty started again from the minimum
    }

    @Test func theBalancerLeavesEjectedEndpointsOutAndNoneIsNil() {
        let clock = ManualClock()
        var random = SeededRandom(seed: 2)
        var loads = [EndpointLoad(now: clock.now), EndpointLoad(now: clock.now)]
        for _ in 0..<7 {
            loads[1].picked(now: clock.now, staleAfter: 1)
            loads[1].finished(rttNanoseconds: 1, now: clock.now, failed: true)
            _ = loads[1].accrue(failed: true, now: clock.now, accrual: Self.accrual, using: &random)
        }
        let choice = PowerOfTwoChoices()
        for _ in 0..<50 {
            #expect(choice.choose(count: 2, now: clock.now, using: &random) { loads[$0] } == 0)
        }
        for _ in 0..<7 {
            loads[0].picked(now: clock.now, staleAfter: 1)
            loads[0].finished(rttNanoseconds: 1, now: clock.now, failed: true)
            _ = loads[0].accrue(failed: true, now: clock.now, accrual: Self.accrual, using: &random)
        }
        #expect(choice.choose(count: 2, now: clock.now, using: &random) { loads[$0] } == nil)
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func aReplicaFailingFastDoesNotAttractMoreTraffic(seed: UInt64) {
        // One replica fails 10 % of requests in 1 ms and otherwise answers in 1 ms; the other
        // answers every request in 5 ms. Peak-EWMA alone would send the fast one nearly all.
        let clock = ManualClock()
        var random = SeededRandom(seed: seed)
        var loads = [EndpointLoad(now: clock.now), EndpointLoad(now: clock.now)]
        var served = [0, 0]
        var pending: [(endpoint: Int, sent: UInt64, done: UInt64, failed: Bool)] = []
        let choice = PowerOfTwoChoices()
        for _ in 0..<(50 * 30) {
            clock.advance(by: .milliseconds(20))
            let now = clock.now
            pending.sort { $0.done < $1.done }
            while let first = pending.first, first.done <= now {
                pending.removeFirst()
                loads[first.endpoint].finished(rttNanoseconds: first.done - first.sent, now: first.done, failed: first.failed)
            }
            let snapshot = loads
            guard let chosen = choice.choose(count: 2, now: now, using: &random, load: { snapshot[$0] }) else { return }
            loads[chosen].picked(now: now, staleAfter: choice.probeAfterNanoseconds)
            served[chosen] += 1
            let failed = chosen == 0 && Int.random(in: 0..<10, using: &random) == 0
            pending.append((chosen, now, now + (chosen == 0 ? 1_000_000 : 5_000_000), failed))
        }
        let share = Double(served[0]) / Double(served[0] + served[1])
        #expect(share <= 0.55, "the failing replica got \(share) of \(served)")
    }
}
