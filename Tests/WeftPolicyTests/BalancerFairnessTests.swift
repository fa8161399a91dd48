import Testing
import WeftPolicy
import WeftTesting

/// The balancer under simulated traffic: requests arrive at a fixed rate on a manual clock, each
/// endpoint answers after a latency drawn from its own distribution, and the shares are counted.
@Suite("Balancer fairness")
struct BalancerFairnessTests {
    /// Milliseconds as nanoseconds.
    static func ms(_ value: Double) -> UInt64 { UInt64(value * 1_000_000) }

    /// Runs `seconds` of traffic at `rps` over endpoints whose latencies `latency(endpoint, random)`
    /// draws; returns how many requests each endpoint got.
    static func simulate(endpoints count: Int, rps: Int = 20, seconds: Int = 30, seed: UInt64 = 7,
                         choice: PowerOfTwoChoices = PowerOfTwoChoices(),
                         latency: (Int, inout SeededRandom) -> UInt64) -> [Int] {
        let clock = ManualClock()
        var random = SeededRandom(seed: seed)
        var loads = (0..<count).map { _ in EndpointLoad(now: clock.now) }
        var served = [Int](repeating: 0, count: count)
        var pending: [(endpoint: Int, sent: UInt64, done: UInt64)] = []
        let interval = Duration.nanoseconds(1_000_000_000 / rps)
        for _ in 0..<(rps * seconds) {
            clock.advance(by: interval)
            let now = clock.now
            // Responses that arrived by now are measured first, in order.
            pending.sort { $0.done < $1.done }
            while let first = pending.first, first.done <= now {
                pending.removeFirst()
                loads[first.endpoint].finished(rttNanoseconds: first.done - first.sent, now: first.done)
            }
            let snapshot = loads
            guard let chosen = choice.choose(count: count, now: now, using: &random, load: { snapshot[$0] }) else {
                Issue.record("no endpoint chosen")
                return served
            }
            loads[chosen].picked(now: now, staleAfter: choice.probeAfterNanoseconds)
            served[chosen] += 1
            pending.append((chosen, now, now + latency(chosen, &random)))
        }
        return served
    }

    /// A healthy replica: 2 ms ± 20 %, and one answer in 50 takes 40 ms (a pause, a cold cache).
    static func healthy(_ random: inout SeededRandom) -> UInt64 {
        if Int.random(in: 0..<50, using: &random) == 0 { return ms(40) }
        return ms(Double.random(in: 1.6...2.4, using: &random))
    }

    static func shares(_ served: [Int]) -> [Double] {
        let total = Double(served.reduce(0, +))
        return served.map { Double($0) / total }
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func twoEqualReplicasShareEvenly(seed: UInt64) {
        let served = Self.simulate(endpoints: 2, seed: seed) { _, random in Self.healthy(&random) }
        for share in Self.shares(served) {
            #expect((0.35...0.65).contains(share), "shares \(Self.shares(served)) of \(served)")
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func threeEqualReplicasShareEvenly(seed: UInt64) {
        let served = Self.simulate(endpoints: 3, seed: seed) { _, random in Self.healthy(&random) }
        for share in Self.shares(served) {
            #expect((0.20...0.47).contains(share), "shares \(Self.shares(served)) of \(served)")
        }
    }

    @Test func replicasWithinTheTieBandShareEvenly() {
        // One replica is steadily 15 % slower: noise, not a reason to starve it.
        let served = Self.simulate(endpoints: 2) { endpoint, random in
            let base = Self.healthy(&random)
            return endpoint == 0 ? base : base + base * 15 / 100
        }
        for share in Self.shares(served) {
            #expect((0.35...0.65).contains(share), "shares \(Self.shares(served)) of \(served)")
        }
    }

    @Test func aMuchSlowerReplicaGetsOnlyProbes() {
        // 10× slower: P2C over Peak-EWMA sends it almost nothing, but never nothing.
        let served = Self.simulate(endpoints: 2) { endpoint, random in
            endpoint == 0 ? Self.ms(Double.random(in: 1.6...2.4, using: &random)) : Self.ms(20)
        }
        let slow = Self.shares(served)[1]
        #expect(slow < 0.10, "the slow replica got \(served[1]) of \(served.reduce(0, +))")
        #expect(served[1] >= 25, "the slow replica was probed \(served[1]) times in 30 s")
    }

    @Test func aNewEndpointIsTriedAtOnce() {
        let clock = ManualClock()
        var random = SeededRandom(seed: 1)
        var old = EndpointLoad(now: clock.now)
        old.picked(now: clock.now, staleAfter: 1_000_000_000)
        old.finished(rttNanoseconds: Self.ms(1), now: clock.now + Self.ms(1))
        clock.advance(by: .milliseconds(10))
        let loads = [old, EndpointLoad(now: clock.now)]
        let chosen = PowerOfTwoChoices().choose(count: 2, now: clock.now, using: &random) { loads[$0] }
        #expect(chosen == 1)
    }

    @Test func anEndpointLeftOutIsProbedWithinTheProbeInterval() {
        let clock = ManualClock()
        let choice = PowerOfTwoChoices()
        var random = SeededRandom(seed: 3)
        var loads = [EndpointLoad(now: clock.now), EndpointLoad(now: clock.now)]
        // Endpoint 1 answers once very slowly; endpoint 0 is fast.
        loads[1].picked(now: clock.now, staleAfter: choice.probeAfterNanoseconds)
        loads[1].finished(rttNanoseconds: Self.ms(500), now: clock.now + Self.ms(500))
        loads[0].picked(now: clock.now, staleAfter: choice.probeAfterNanoseconds)
        loads[0].finished(rttNanoseconds: Self.ms(1), now: clock.now + Self.ms(1))
        let slowSince = clock.now
        var pickedSlow: UInt64?
        for _ in 0..<200 where pickedSlow == nil {
            clock.advance(by: .milliseconds(10))
            let snapshot = loads
            let chosen = choice.choose(count: 2, now: clock.now, using: &random) { snapshot[$0] }!
            loads[chosen].picked(now: clock.now, staleAfter: choice.probeAfterNanoseconds)
            loads[chosen].finished(rttNanoseconds: Self.ms(1), now: clock.now)
            if chosen == 1 { pickedSlow = clock.now }
        }
        let waited = (pickedSlow ?? .max) - slowSince
        #expect(waited <= choice.probeAfterNanoseconds + Self.ms(10), "picked again after \(waited / 1_000_000) ms")
        // Its fresh, fast answer replaced the old estimate: it competes again at once.
        #expect(loads[1].ewma.estimate(at: clock.now) < Double(Self.ms(2)))
    }

    @Test func endpointsBackingOffAreLeftOutUnlessAllAre() {
        let clock = ManualClock()
        var random = SeededRandom(seed: 9)
        var loads = [EndpointLoad(now: clock.now), EndpointLoad(now: clock.now)]
        for index in loads.indices { loads[index].picked(now: clock.now, staleAfter: 1_000_000_000) }
        loads[0].connectFailed(now: clock.now)
        clock.advance(by: .milliseconds(100))
        for _ in 0..<20 {
            #expect(PowerOfTwoChoices().choose(count: 2, now: clock.now, using: &random) { loads[$0] } == 1)
        }
        loads[1].connectFailed(now: clock.now)
        #expect(PowerOfTwoChoices().choose(count: 2, now: clock.now, using: &random) { loads[$0] } != nil)
        // An excluded endpoint (nil) is never chosen.
        #expect(PowerOfTwoChoices().choose(count: 2, now: clock.now, using: &random) { $0 == 0 ? nil : loads[$0] } == 1)
        #expect(PowerOfTwoChoices().choose(count: 0, now: clock.now, using: &random) { loads[$0] } == nil)
    }

    @Test func connectFailuresBackOffExponentiallyAndAConnectionClearsThem() {
        var load = EndpointLoad(now: 0)
        load.connectFailed(now: 1_000)
        #expect(load.unavailableUntil == 1_000 + 250_000_000)
        load.connectFailed(now: 1_000)
        #expect(load.unavailableUntil == 1_000 + 500_000_000)
        for _ in 0..<10 { load.connectFailed(now: 1_000) }
        #expect(load.unavailableUntil == 1_000 + 5_000_000_000)
        load.connected()
        #expect(!load.isBackingOff(now: 1_000))
    }
}
