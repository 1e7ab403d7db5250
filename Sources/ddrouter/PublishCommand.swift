import AMQP
import ArgumentParser
import Contract
import Daemon
import Foundation
import Logging

/// `ddrouter publish --type T --sender KIND:ID FILE`: publishes a message file the way a
/// sender must (docs/messages.md): to the sender's own inbound exchange, routing key the
/// type, with `type`, a `message_id`, `user_id` = the sender's broker user from the
/// directory, `content_type: application/json`, persistent, a timestamp; waits for the
/// broker's confirm. It connects as that broker user — with its password (`--password-file`
/// or standard input) or its client certificate (`--tls-cert`, `--tls-key`) — since the
/// broker accepts a `user_id` only from the user itself. For vendors and tests.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish", abstract: "Publish a message file as a sender, with the right properties.")

    @OptionGroup var options: AdminOptions
    @Option(help: "Message type, one of: \(MessageType.inbound.map(\.rawValue).joined(separator: ", ")).")
    var type: String
    @Option(help: "The sender: municipality:<code>, clinic:<id> or journal:<id>.")
    var sender: String
    @Option(help: "File holding the sender's broker password (default: read it from standard input).")
    var passwordFile: String?
    @Option(help: "The sender's TLS client certificate: log in with it (EXTERNAL) instead of a password.")
    var tlsCert: String?
    @Option(help: "The key of --tls-cert.") var tlsKey: String?
    @Option(help: "The message_id (default: a new UUID).") var messageID: String?
    @Option(help: "A correlation_id.") var correlationID: String?
    @Option(help: "Seconds to wait for the broker.") var timeout: Int = 15
    @Argument(help: "The message body (JSON).") var file: String

    func run() async throws {
        guard let messageType = MessageType(rawValue: type), messageType.direction == .inbound else {
            throw ValidationError("--type: \(type) is not an inbound message type (\(MessageType.inbound.map(\.rawValue).joined(separator: ", ")))")
        }
        let parts = sender.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let kind = SenderKind(rawValue: parts[0]) else {
            throw ValidationError("--sender must be municipality:<code>, clinic:<id> or journal:<id>")
        }
        let who: Sender = switch kind {
        case .municipality: .municipality(parts[1])
        case .clinic: .clinic(parts[1])
        case .journal: .journal(parts[1])
        }
        guard messageType.allowedSenders.contains(kind) else {
            throw ValidationError("a \(kind.rawValue) does not send \(type) (docs/messages.md)")
        }
        guard let body = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)", code: 66) }
        let settings = try await DaemonSettings.loadOrExit(config: options.config)
        guard settings.codeBook.contains(who) else { fail("\(who) is not in the directory of \(options.config)", code: 78) }
        let user = settings.directory.brokerUser(for: who)
        var configuration = settings.amqp
        if let tlsCert {
            // The sender's certificate, never ddrouter's own; the CA and checks stay as configured.
            guard var tls = configuration.tls else { fail("--tls-cert needs broker.tls.ca_file in the configuration", code: 78) }
            guard let tlsKey else { throw ValidationError("--tls-cert needs --tls-key") }
            tls.clientCertificatePath = tlsCert
            tls.clientKeyPath = tlsKey
            configuration.tls = tls
            configuration.authentication = .external(identity: user)
        } else {
            let password: String
            if let passwordFile {
                guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else { fail("cannot read \(passwordFile)", code: 66) }
                password = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                password = (readLine(strippingNewline: true) ?? "")
            }
            configuration.tls?.clientCertificatePath = nil
            configuration.tls?.clientKeyPath = nil
            configuration.authentication = .plain(user: user, password: password)
        }
        configuration.connectionName = "ddrouter-publish"
        var logger = Logger(label: "ddrouter.publish")
        logger.logLevel = .error
        let client = AMQPClient(configuration: configuration, logger: logger)
        client.start()
        let id = messageID ?? UUID().uuidString.lowercased()
        let exchange = settings.names.exchange(for: who)
        do {
            // A refused login (wrong password, unknown user, no access to the vhost) is said at
            // once: waiting out --timeout cannot fix it.
            try await client.waitUntilConnected(timeout: .seconds(timeout), failOnRefusedLogin: true)
            try await client.publish(OutboundMessage(
                exchange: exchange, routingKey: messageType.rawValue, body: body,
                properties: MessageProperties(
                    contentType: "application/json", persistent: true, correlationID: correlationID, messageID: id,
                    timestamp: UInt64(Date().timeIntervalSince1970), type: messageType.rawValue, userID: user,
                    appID: "ddrouter-publish")))
        } catch let error as AMQPError where error.isRefusedLogin {
            await client.close()
            fail(refusedLogin(error, user: configuration.authentication.user, vhost: configuration.vhost), code: 77)  // EX_NOPERM
        } catch {
            await client.close()
            fail("publish to \(exchange) as \(user) failed: \(error)", code: 69)
        }
        await client.close()
        print("published \(messageType.rawValue) message_id=\(Format.messageID(id)) to \(exchange) as \(user)")
    }
}

extension CodeBook {
    func contains(_ sender: Sender) -> Bool {
        switch sender {
        case .municipality(let code): municipalities.contains(code)
        case .clinic(let id): clinics.contains(id)
        case .journal(let id): journals.contains(id)
        }
    }
}
