import AMQP
import Foundation
import Testing

extension ClientTests {
    /// Waits for the first `.disconnected` reason (a failed connection attempt).
    static func firstFailure(of client: AMQPClient) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                for await event in client.events {
                    if case .disconnected(let reason) = event { return reason }
                    if case .connected = event { return nil }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))
                return "no connection attempt finished within 20 s"
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test("8: TLS: right CA works; wrong CA and wrong hostname fail clearly; EXTERNAL login with a client certificate")
    func tls() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ddrouter-tls-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Broker.run([Broker.repoRoot.appendingPathComponent("scripts/gen-test-certs.sh").path, dir.path])

        let tlsPort = 5691
        let instance = [
            "DDR_BROKER_INSTANCE": "tls-it", "DDR_AMQP_PORT": "5692", "DDR_AMQPS_PORT": "\(tlsPort)",
            "DDR_DIST_PORT": "25692", "DDR_TLS_DIR": dir.path, "DDR_NODE_NAME": "ddrouter-tls-it@localhost",
        ]
        try Broker.run([Broker.script, "start"], env: instance)
        defer { _ = try? Broker.run([Broker.script, "stop"], env: instance) }

        func client(host: String, ca: String, auth: AMQPConfiguration.Authentication, cert: Bool = false) -> AMQPClient {
            var config = Broker.configuration(name: Broker.unique("it.tls"), port: tlsPort, host: host)
            config.authentication = auth
            config.tls = .init(caCertificatePath: dir.appendingPathComponent(ca).path,
                               clientCertificatePath: cert ? dir.appendingPathComponent("client.pem").path : nil,
                               clientKeyPath: cert ? dir.appendingPathComponent("client-key.pem").path : nil)
            return AMQPClient(configuration: config, logger: testLogger("tls"))
        }
        let plain = AMQPConfiguration.Authentication.plain(user: Broker.user, password: Broker.password)

        // Right CA, host named by the certificate: connects and publishes with confirms.
        let good = client(host: "localhost", ca: "ca.pem", auth: plain)
        good.start()
        try await good.waitUntilConnected(timeout: .seconds(20))
        try await good.publish(OutboundMessage(exchange: "amq.topic", routingKey: "tls.check", body: Data("x".utf8), mandatory: false))
        await good.close()

        // A CA that did not sign the broker's certificate.
        let wrongCA = client(host: "localhost", ca: "other-ca.pem", auth: plain)
        wrongCA.start()
        let caFailure = await Self.firstFailure(of: wrongCA)
        #expect(wrongCA.isConnected == false)
        #expect(caFailure?.contains("TLS") == true, "reason: \(caFailure ?? "none")")
        #expect(caFailure?.contains("CA") == true, "reason: \(caFailure ?? "none")")
        await wrongCA.close()

        // Right CA, but a host name the certificate does not carry (it names DNS:localhost).
        let wrongHost = client(host: "127.0.0.1", ca: "ca.pem", auth: plain)
        wrongHost.start()
        let hostFailure = await Self.firstFailure(of: wrongHost)
        #expect(wrongHost.isConnected == false)
        #expect(hostFailure?.contains("TLS") == true, "reason: \(hostFailure ?? "none")")
        await wrongHost.close()

        // EXTERNAL: the broker takes the user from the client certificate's CN.
        let external = client(host: "localhost", ca: "ca.pem", auth: .external(identity: "ddrouter-client"), cert: true)
        external.start()
        try await external.waitUntilConnected(timeout: .seconds(20))
        let users = try Broker.ctl("list_connections", "user", "auth_mechanism", "--no-table-headers", "--quiet", instanceEnv: instance)
        #expect(users.contains("ddrouter-client\tEXTERNAL"), "connections: \(users)")
        await external.close()
    }
}
