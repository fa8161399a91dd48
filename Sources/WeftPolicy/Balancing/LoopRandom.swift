/// A fast pseudo-random generator for the data path's draws (P2C's two choices, a weighted
/// backend, an injected failure's share): wyrand, seeded once from the system's generator.
/// `SystemRandomNumberGenerator` asks the kernel on every draw (`getrandom`), which costs about
/// as much as a whole route decision; these draws need to be fair, not secret. One per event
/// loop (a value: not shared between threads).
public struct LoopRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init() {
        var system = SystemRandomNumberGenerator()
        state = system.next()
    }

    /// A generator with a fixed seed (tests and simulations).
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0xa076_1d64_78bd_642f
        let product = state.multipliedFullWidth(by: state ^ 0xe703_7ed1_a0b4_28db)
        return product.high ^ product.low
    }
}
