import AMQP
@testable import Daemon
import Foundation
import Testing

@Suite("DaemonSettings")
struct DaemonSettingsTests {
    static var repoRoot: URL {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("no repository root")
    }

    static var shippedConfig: String { repoRoot.appendingPathComponent("Config/ddrouter.yaml").path }

    @Test func shippedConfigurationLoads() async throws {
        let s = try await DaemonSettings.load(path: Self.shippedConfig, environment: [:])
        #expect(s.amqp.endpoints == [.init(host: "127.0.0.1", port: 5682)])
        #expect(s.amqp.vhost == "ddrouter")
        #expect(s.codeBook.municipalities.count == 11)
        #expect(s.codeBook.municipalities.contains("851") && s.codeBook.municipalities.contains("773"))
        #expect(s.prefetch == 200)
    }

    @Test func environmentOverridesTheFile() async throws {
        let s = try await DaemonSettings.load(
            path: Self.shippedConfig,
            environment: ["DDROUTER_BROKER_PORT": "5999", "DDROUTER_BROKER_HOST": "localhost", "OTHER_BROKER_PORT": "1"])
        #expect(s.amqp.endpoints == [.init(host: "localhost", port: 5999)])
    }

    @Test func missingFileAndBadValuesAreNamed() async throws {
        await #expect { try await DaemonSettings.load(path: "/nonexistent/ddrouter.yaml", environment: [:]) } throws: {
            "\($0)".contains("/nonexistent/ddrouter.yaml")
        }
        await #expect { try await DaemonSettings.load(path: Self.shippedConfig, environment: ["DDROUTER_BROKER_PORT": "70000"]) } throws: {
            "\($0)".contains("broker.port")
        }
    }

    @Test func topologyHasOneInboundExchangePerSenderAndOneQueuePerRecipient() async throws {
        let s = try await DaemonSettings.load(path: Self.shippedConfig, environment: [:])
        let t = s.topology
        let senders = s.codeBook.municipalities.count + s.codeBook.clinics.count + s.codeBook.journals.count
        let inbound = t.exchanges.filter { $0.name.hasPrefix("dd.in.") }
        #expect(inbound.count == senders)
        #expect(t.bindings.filter { $0.queue == "ddrouter.inbound" }.count == senders)
        #expect(t.exchanges.contains { $0.name == "dd.in.municipality.851" && $0.kind == .topic })
        let inboundQueue = try #require(t.queues.first { $0.name == "ddrouter.inbound" })
        #expect(inboundQueue.kind == .quorum)
        #expect(inboundQueue.arguments["x-delivery-limit"] == .int(5))
        #expect(t.bindings.contains { $0.queue == "dd.cv.referrals" && $0.exchange == "dd.out" && $0.routingKey == "cv.#" })
        #expect(t.bindings.contains {
            $0.queue == "dd.municipality.851.inbox" && $0.exchange == "dd.out" && $0.routingKey == "municipality.851.#"
        })
        #expect(t.bindings.contains {
            $0.queue == "dd.clinic.amb-syd-aalborg.assessments" && $0.routingKey == "clinic.amb-syd-aalborg.#"
        })
    }

    @Test func classicInboundQueueHasNoDeliveryLimitAndOtherTypesAreNamed() async throws {
        let s = try await DaemonSettings.load(path: Self.shippedConfig, environment: ["DDROUTER_INBOUND_QUEUE_TYPE": "classic"])
        let inbound = try #require(s.topology.queues.first { $0.name == "ddrouter.inbound" })
        #expect(inbound.kind == .classic)
        #expect(inbound.arguments["x-delivery-limit"] == nil)
        #expect(inbound.arguments["x-dead-letter-exchange"] == .string("dd.dead"))
        await #expect { try await DaemonSettings.load(path: Self.shippedConfig, environment: ["DDROUTER_INBOUND_QUEUE_TYPE": "stream"]) } throws: {
            "\($0)".contains("inbound.queue_type must be quorum or classic, got \"stream\"")
        }
    }
}
