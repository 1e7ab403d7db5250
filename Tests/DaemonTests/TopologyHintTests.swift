import Daemon
import Testing

@Suite("Topology hints")
struct TopologyHintTests {
    @Test("a changed inbound.delivery_limit is named")
    func deliveryLimit() {
        let reason = "broker refused declaring queue 'ddrouter.inbound': PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'ddrouter.inbound' in vhost 'ddrouter': received the value '6' of type 'signedint' but current is the value '5' of type 'long' (does an existing exchange or queue have different arguments?)"
        #expect(TopologyHint.forFailure(reason)?.hasPrefix("inbound.delivery_limit differs") == true)
    }

    @Test("a classic queue left by an older version is named, with the way to migrate it (docs/operations.md)")
    func classicOutboundQueue() {
        let reason = "broker refused declaring queue 'dd.municipality.851.inbox': PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'dd.municipality.851.inbox' in vhost 'ddrouter': received 'quorum' but current is 'classic' (does an existing exchange or queue have different arguments?)"
        let hint = TopologyHint.forFailure(reason)
        #expect(hint?.contains("dd.municipality.851.inbox") == true, "\(hint ?? "no hint")")
        #expect(hint?.contains("quorum") == true)
        #expect(hint?.contains("docs/operations.md") == true)
        // The inbound queue's type is a setting (inbound.queue_type), not an old version's.
        let inbound = reason.replacingOccurrences(of: "dd.municipality.851.inbox", with: "ddrouter.inbound")
        #expect(TopologyHint.forFailure(inbound)?.hasPrefix("inbound.queue_type differs") == true)
    }

    @Test("other refusals get the general hint; other failures none")
    func others() {
        #expect(TopologyHint.forFailure("PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'dd.out'")?.contains("other arguments") == true)
        #expect(TopologyHint.forFailure("cannot connect to 127.0.0.1:5672: connection refused") == nil)
    }
}
