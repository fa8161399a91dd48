import Foundation

/// The demo's traffic: at a steady rate, in turn, lists the emoji, votes for one at random and
/// reads the leaderboard, through its proxy's outbound listener
/// (`Host: web.<namespace>.svc.cluster.local:8080`).
struct VoteBot {
    let outbound: HTTPExchange.Endpoint
    let webAuthority: String
    let rate: Double

    func run() -> Never {
        let interval = 1 / rate
        var next = Date()
        var count = 0
        while true {
            let path = switch count % 3 {
            case 0: "/api/list"
            case 1: "/api/vote?choice=\(EmojiCatalogue.all.randomElement()!.shortcode)"
            default: "/api/leaderboard"
            }
            count += 1
            do {
                _ = try HTTPExchange(endpoint: outbound, timeout: .seconds(5)).request(.GET, path, host: webAuthority)
            } catch {
                FileHandle.standardError.write(Data("vote-bot: \(path): \(error)\n".utf8))
            }
            next += interval
            let wait = next.timeIntervalSinceNow
            if wait > 0 { Thread.sleep(forTimeInterval: wait) } else { next = Date() }
        }
    }
}
