import AMQP
import Daemon
import Foundation
import Testing

/// docs/messages.md, "Topology": "All outbound queues are durable quorum queues". On the
/// real broker: the daemon's topology declares them so (the declare with
/// `x-queue-type: quorum` succeeds, and the broker lists them as quorum).
extension ClientTests {
    @Test("Topology (docs/messages.md): every queue the daemon declares, the outbound ones included, is a durable quorum queue on the broker")
    func outboundQueuesAreQuorum() async throws {
        let settings = try await DaemonSettings.load(
            path: Broker.repoRoot.appendingPathComponent("Config/ddrouter.yaml").path, environment: [:])
        let client = AMQPClient(
            configuration: Broker.configuration(name: "it.queue-types"), topology: settings.topology,
            logger: testLogger("queue-types"))
        client.start()
        // Connected means the broker accepted every declare of the topology as it stands.
        try await client.waitUntilConnected(timeout: .seconds(15))
        await client.close()

        let listed = try Broker.ctl("list_queues", "-p", Broker.vhost, "name", "type", "durable", "--no-table-headers", "--quiet")
        var types: [String: (type: String, durable: String)] = [:]
        for line in listed.split(separator: "\n") {
            let fields = line.split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.count == 3 { types[fields[0]] = (fields[1], fields[2]) }
        }
        let names = settings.names
        var outbound = [names.centralVisitationQueue]
        outbound += settings.codeBook.municipalities.map { names.queue(for: .municipality($0)) }
        outbound += settings.codeBook.clinics.map { names.queue(for: .clinic($0)) }
        outbound += settings.codeBook.journals.map { names.queue(for: .journal($0)) }
        #expect(outbound.count == 15)
        for queue in outbound + [names.inboundQueue, names.deadLetterQueue] {
            #expect(types[queue]?.type == "quorum", "\(queue) is \(types[queue]?.type ?? "missing"), the contract says quorum")
            #expect(types[queue]?.durable == "true", "\(queue) is not durable")
        }
    }
}
