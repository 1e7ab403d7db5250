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
        if reason.contains("x-delivery-limit") {
            return "inbound.delivery_limit differs from the x-delivery-limit of the existing queue ddrouter.inbound: "
                + "set it back, or stop ddrouter and delete the empty queue so it is declared again "
                + "(docs/operations.md, Configure: changing inbound.delivery_limit)"
        }
        return "an existing exchange or queue was declared with other arguments than ddrouter's configuration gives it "
            + "(see the broker's reason); ddrouter retries until they match"
    }
}
