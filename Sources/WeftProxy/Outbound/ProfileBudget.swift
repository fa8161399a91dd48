import WeftPolicy

/// A service's ServiceProfile retry budget on the proxy's loop, shared by the requests under its
/// routes: each request deposits, each retry withdraws.
final class ProfileBudget {
    var budget: RetryBudget

    init(_ settings: RetryBudget.Settings) {
        budget = RetryBudget(settings)
    }
}
