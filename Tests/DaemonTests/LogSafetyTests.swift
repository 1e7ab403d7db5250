@testable import Daemon
import Testing

@Suite("logs carry no sender-controlled text")
struct LogSafetyTests {
    @Test("an AMQP type is logged only as a contract type name")
    func type() {
        #expect(Pipeline.loggableType("municipal-list") == "municipal-list")
        #expect(Pipeline.loggableType(nil) == "-")
        #expect(Pipeline.loggableType("") == "-")
        #expect(Pipeline.loggableType("0103304123 Jens Hansen") == "(unknown)")
        #expect(Pipeline.loggableType(String(repeating: "x", count: 10_000)) == "(unknown)")
    }

    @Test("a message id with a run of digits is redacted, a long one truncated")
    func messageID() {
        #expect(Pipeline.loggable("list-0103304123") == "(redacted)")
        #expect(Pipeline.loggable(String(repeating: "a", count: 300)).count == 128)
    }
}
