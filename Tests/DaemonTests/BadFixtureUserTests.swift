import Contract
import Daemon
import Foundation
import Testing

/// The bad-input corpus is published by integrators as the senders the daemon knows: its
/// `users` and every fixture's `user_id` are the broker users of the shipped directory
/// (`ddrouter topology --definitions` creates the same ones), never another naming.
@Suite("Tests/Fixtures/bad: users are the directory's broker users")
struct BadFixtureUserTests {
    struct Index: Decodable {
        struct Fixture: Decodable {
            let file: String
            let exchange: String
            let properties: [String: String]?
        }
        let users: [String: String]
        let fixtures: [Fixture]
    }

    /// `dd.in.<kind>.<id>` → the sender that exchange belongs to.
    static func sender(ofExchange exchange: String) -> Sender? {
        let parts = exchange.split(separator: ".", maxSplits: 3).map(String.init)
        guard parts.count == 4, parts[0] == "dd", parts[1] == "in" else { return nil }
        switch SenderKind(rawValue: parts[2]) {
        case .municipality: return .municipality(parts[3])
        case .clinic: return .clinic(parts[3])
        case .journal: return .journal(parts[3])
        case nil: return nil
        }
    }

    @Test("index.json names each exchange's user as the directory does (issue 14, item 16)")
    func usersMatchDirectory() throws {
        let data = try Data(contentsOf: DaemonSettingsTests.repoRoot.appendingPathComponent("Tests/Fixtures/bad/index.json"))
        let index = try JSONDecoder().decode(Index.self, from: data)
        let directory = Directory.nordjylland
        #expect(!index.users.isEmpty)
        for (exchange, user) in index.users {
            let sender = try #require(Self.sender(ofExchange: exchange), "\(exchange) is no inbound exchange")
            #expect(user == directory.brokerUser(for: sender), "users[\(exchange)]")
        }
        var checked = 0
        for fixture in index.fixtures {
            guard let userID = fixture.properties?["user_id"] else { continue }
            let sender = try #require(Self.sender(ofExchange: fixture.exchange))
            #expect(userID == directory.brokerUser(for: sender), "\(fixture.file): user_id")
            checked += 1
        }
        #expect(checked > 0)
    }
}
