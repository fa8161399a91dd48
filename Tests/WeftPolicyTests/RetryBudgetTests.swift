import Testing
import WeftPolicy
import WeftTesting

/// The retry budget on a manual clock: retries add at most the ratio of the window's requests
/// plus the minimum per second of the window.
@Suite("Retry budget")
struct RetryBudgetTests {
    @Test func retriesAreBoundedByTheRatioAndTheMinimum() {
        let clock = ManualClock()
        clock.advance(by: .seconds(100))
        var budget = RetryBudget(.init(ratio: 0.2, minimumPerSecond: 10, ttl: .seconds(10)))
        for _ in 0..<100 { budget.deposit(now: clock.now) }
        var allowed = 0
        while budget.withdraw(now: clock.now) { allowed += 1 }
        #expect(allowed == 20 + 100)
        // Ten seconds on, the window has forgotten both.
        clock.advance(by: .seconds(10))
        for _ in 0..<10 { budget.deposit(now: clock.now) }
        allowed = 0
        while budget.withdraw(now: clock.now) { allowed += 1 }
        #expect(allowed == 2 + 100)
    }

    @Test func aSteadyFailingLoadIsAmplifiedAtMostByTheBudget() {
        // 50 requests per second for 30 s, each failing and retried while the budget allows.
        let clock = ManualClock()
        var budget = RetryBudget(.init(ratio: 0.2, minimumPerSecond: 10, ttl: .seconds(10)))
        var retries = 0
        for _ in 0..<(50 * 30) {
            clock.advance(by: .milliseconds(20))
            budget.deposit(now: clock.now)
            while budget.withdraw(now: clock.now) { retries += 1 }
        }
        // At most 20 % of the requests plus 10 per second (the first window's reserve included).
        #expect(retries <= Int(0.2 * 1500) + 10 * 30 + 100)
        #expect(retries >= Int(0.2 * 1500))
    }
}
