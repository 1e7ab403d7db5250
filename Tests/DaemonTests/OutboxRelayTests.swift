import AMQP
@testable import Daemon
import Testing

@Suite("OutboxRelay: which failures back a row off")
struct OutboxRelayTests {
    @Test("a dead connection backs nothing off; a failure of the row itself does", arguments: [
        (AMQPError.Code.connectionLost, true), (.timeout, true), (.blocked, true), (.unreachable, true), (.closed, true),
        (.unroutable, false), (.nacked, false), (.channelClosed, false), (.invalidArgument, false),
    ])
    func classification(code: AMQPError.Code, connection: Bool) {
        #expect(OutboxRelay.isConnectionFailure(AMQPError(code, "test")) == connection)
    }

    @Test("a non-AMQP error is the row's")
    func otherErrors() {
        struct Other: Error {}
        #expect(!OutboxRelay.isConnectionFailure(Other()))
    }
}
