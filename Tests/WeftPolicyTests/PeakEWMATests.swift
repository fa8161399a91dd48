import Foundation
import Testing
import WeftPolicy
import WeftTesting

@Suite("Peak-EWMA and weighted distribution")
struct PeakEWMATests {
    @Test func startsAtTheDefaultAndDecaysWithTime() {
        let ewma = PeakEWMA(now: 0)
        #expect(ewma.estimate(at: 0) == 30_000_000)
        // One decay constant later: 1/e of the estimate.
        let decayed = ewma.estimate(at: 10_000_000_000)
        #expect(abs(decayed - 30_000_000 / 2.718281828) < 1_000)
    }

    @Test func aSlowerAnswerIsTakenAtOnceAFasterOneBlended() {
        var ewma = PeakEWMA(now: 0)
        ewma.observe(rttNanoseconds: 100_000_000, now: 1_000)
        #expect(ewma.estimate(at: 1_000) == 100_000_000)
        ewma.observe(rttNanoseconds: 1_000_000, now: 1_000_000_000)
        let blended = ewma.estimate(at: 1_000_000_000)
        #expect(blended > 80_000_000 && blended < 100_000_000)
    }

    @Test func peakEWMATakesPeaksAtOnceAndDecaysTowardFasterSamples() {
        var ewma = PeakEWMA(defaultRTT: .milliseconds(30), decay: .seconds(10), now: 0)
        #expect(ewma.estimateNanoseconds == 30_000_000)
        ewma.observe(rttNanoseconds: 200_000_000, now: 1_000_000)
        #expect(ewma.estimateNanoseconds == 200_000_000)
        // Unobserved, the estimate decays toward zero: 1/e of it after one decay time.
        #expect(abs(ewma.estimate(at: 10_001_000_000) - 200_000_000 * exp(-1.0)) < 1)
        // A 10 ms sample one decay time later is blended into the decayed estimate.
        ewma.observe(rttNanoseconds: 10_000_000, now: 10_001_000_000)
        let expected = 200_000_000 * exp(-1.0) + 10_000_000 * (1 - exp(-1.0))
        #expect(abs(ewma.estimateNanoseconds - expected) < 1)
        #expect(ewma.cost(inFlight: 2, now: 10_001_000_000) == ewma.estimateNanoseconds * 3)
        // A sample above the decayed estimate is the new peak.
        ewma.observe(rttNanoseconds: 90_000_000, now: 10_002_000_000)
        #expect(ewma.estimateNanoseconds == 90_000_000)
    }

    @Test func costGrowsWithOutstandingRequests() {
        let ewma = PeakEWMA(now: 0)
        #expect(ewma.cost(inFlight: 2, now: 0) == 3 * ewma.cost(inFlight: 0, now: 0))
    }

    @Test func aWeightedDrawFollowsTheWeights() {
        let split = WeightedDistribution([(element: "a", weight: 900), (element: "b", weight: 100), (element: "c", weight: 0)])
        var random = SeededRandom(seed: 11)
        var counts: [String: Int] = [:]
        for _ in 0..<10_000 { counts[split.draw(using: &random)!, default: 0] += 1 }
        #expect((8_800...9_200).contains(counts["a", default: 0]), "\(counts)")
        #expect((800...1_200).contains(counts["b", default: 0]), "\(counts)")
        #expect(counts["c"] == nil)
    }

    @Test func nothingToDrawWithoutWeight() {
        var random = SeededRandom(seed: 1)
        #expect(WeightedDistribution<String>([]).draw(using: &random) == nil)
        #expect(WeightedDistribution([(element: "a", weight: 0)]).draw(using: &random) == nil)
    }
}
