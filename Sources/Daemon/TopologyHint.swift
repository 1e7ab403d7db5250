import Contract

/// Operator hints for broker refusals whose cause is a configuration change.
public enum TopologyHint {
    /// The line to log when the broker refuses declaring the topology for `reason` (the
    /// client's connection error), or nil when there is no specific hint.
    ///
    /// `inbound.delivery_limit` is the `x-delivery-limit` argument of the quorum queue
    /// `ddrouter.inbound`: fixed when the queue was first declared, so a changed value makes
    /// every redeclare fail with PRECONDITION_FAILED (and the daemon retry forever, not ready).
    public static func forFailure(_ reason: String) -> String? {
        guard reason.contains("PRECONDITION_FAILED") || reason.contains("inequivalent arg") else { return nil }
        if reason.contains("x-queue-type") {
            // RabbitMQ cannot change a queue's type: ddrouter declares every queue quorum.
            let name = Self.queueName(in: reason)
            if name == Contract.Topology().inboundQueue {
                return "inbound.queue_type differs from the type of the existing queue ddrouter.inbound: set it back, "
                    + "or stop ddrouter, let the queue drain and delete it so it is declared again "
                    + "(docs/operations.md, Configure: changing inbound.delivery_limit)"
            }
            let queue = name.map { "queue \($0)" } ?? "a queue"
            return "\(queue) exists with another x-queue-type than quorum (an older ddrouter declared the recipients' "
                + "queues classic): ddrouter stays not ready, nothing is lost; stop it, let the queue drain, delete it "
                + "with rabbitmqctl delete_queue --if-empty and start ddrouter, which declares it quorum "
                + "(docs/operations.md, Upgrade: classic recipient queues to quorum)"
        }
        if reason.contains("x-delivery-limit") {
            return "inbound.delivery_limit differs from the x-delivery-limit of the existing queue ddrouter.inbound: "
                + "set it back, or stop ddrouter and delete the empty queue so it is declared again "
                + "(docs/operations.md, Configure: changing inbound.delivery_limit)"
        }
        return "an existing exchange or queue was declared with other arguments than ddrouter's configuration gives it "
            + "(see the broker's reason); ddrouter retries until they match"
    }

    /// The queue a broker reason names (`… for queue 'NAME' in vhost …`).
    static func queueName(in reason: String) -> String? {
        guard let start = reason.range(of: "for queue '") else { return nil }
        let rest = reason[start.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }
}
