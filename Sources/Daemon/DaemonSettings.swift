public import AMQP
import Configuration
public import Contract
import Foundation
import SystemPackage

/// What `ddrouter run` needs from its configuration file, with every key's default.
///
/// Keys (YAML; each can be overridden by an environment variable `DDROUTER_` + the key in
/// upper case with `.` as `_`, e.g. `DDROUTER_BROKER_PORT`):
/// - `broker.host` (127.0.0.1), `broker.port` (5672), `broker.vhost` (ddrouter),
///   `broker.user` (ddrouter), `broker.password` (empty), `broker.password_file` (read if set;
///   wins over `broker.password`), `broker.heartbeat_seconds` (30),
///   `broker.connect_timeout_seconds` (5), `broker.publish_timeout_seconds` (30),
///   `broker.tls.ca_file` (TLS on when set), `broker.tls.cert_file`, `broker.tls.key_file`,
///   `broker.tls.verify_hostname` (true), `broker.external_login` (false: EXTERNAL with the
///   client certificate instead of PLAIN)
/// - `directory.municipalities` (the 11 Nordjylland codes), `directory.clinics`,
///   `directory.journals` (lists of ids)
/// - `inbound.prefetch` (200), `inbound.delivery_limit` (5), `inbound.queue_type` (quorum;
///   `classic` for benchmarks and small single-node setups: no delivery limit then)
public struct DaemonSettings: Sendable {
    public var amqp: AMQPConfiguration
    public var codeBook: CodeBook
    public var names: Contract.Topology
    public var prefetch: UInt16
    public var deliveryLimit: Int
    /// The type of `ddrouter.inbound`; only `.quorum` enforces `deliveryLimit`.
    public var inboundQueueType: AMQP.Topology.Queue.Kind = .quorum

    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    /// Loads the YAML file at `path`, with `DDROUTER_*` variables from `environment` on top.
    public static func load(path: String, environment: [String: String]) async throws -> DaemonSettings {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw Problem(message: "configuration file \(path) does not exist or is not readable")
        }
        let file = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
        var overrides: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("DDROUTER_") {
            overrides[String(key.dropFirst("DDROUTER_".count))] = value
        }
        let reader = ConfigReader(providers: [EnvironmentVariablesProvider(environmentVariables: overrides), file])
        return try settings(from: reader)
    }

    static func settings(from r: ConfigReader) throws -> DaemonSettings {
        let host = r.string(forKey: "broker.host", default: "127.0.0.1")
        let port = r.int(forKey: "broker.port", default: 5672)
        guard (1...65535).contains(port) else { throw Problem(message: "broker.port must be 1-65535, got \(port)") }
        let user = r.string(forKey: "broker.user", default: "ddrouter")
        var password = r.string(forKey: "broker.password", isSecret: true, default: "")
        if let file = r.string(forKey: "broker.password_file") {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw Problem(message: "broker.password_file \(file) cannot be read")
            }
            password = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var tls: AMQPConfiguration.TLS?
        if let ca = r.string(forKey: "broker.tls.ca_file") {
            tls = .init(caCertificatePath: ca, clientCertificatePath: r.string(forKey: "broker.tls.cert_file"),
                        clientKeyPath: r.string(forKey: "broker.tls.key_file"),
                        verifyHostname: r.bool(forKey: "broker.tls.verify_hostname", default: true))
        }
        let external = r.bool(forKey: "broker.external_login", default: false)
        if external && tls?.clientCertificatePath == nil {
            throw Problem(message: "broker.external_login needs broker.tls.ca_file, broker.tls.cert_file and broker.tls.key_file")
        }
        let amqp = AMQPConfiguration(
            endpoints: [.init(host: host, port: port)],
            vhost: r.string(forKey: "broker.vhost", default: "ddrouter"),
            authentication: external ? .external(identity: user) : .plain(user: user, password: password),
            tls: tls,
            heartbeat: .seconds(r.int(forKey: "broker.heartbeat_seconds", default: 30)),
            connectTimeout: .seconds(r.int(forKey: "broker.connect_timeout_seconds", default: 5)),
            publishTimeout: .seconds(r.int(forKey: "broker.publish_timeout_seconds", default: 30)),
            connectionName: "ddrouter")
        let municipalities = r.stringArray(forKey: "directory.municipalities",
                                           default: CodeBook.nordjyllandMunicipalities.sorted())
        let codeBook = CodeBook(municipalities: Set(municipalities),
                                clinics: Set(r.stringArray(forKey: "directory.clinics", default: [])),
                                journals: Set(r.stringArray(forKey: "directory.journals", default: [])))
        let prefetch = r.int(forKey: "inbound.prefetch", default: 200)
        guard (1...65535).contains(prefetch) else { throw Problem(message: "inbound.prefetch must be 1-65535, got \(prefetch)") }
        let queueType = r.string(forKey: "inbound.queue_type", default: "quorum")
        guard let inboundQueueType = AMQP.Topology.Queue.Kind(rawValue: queueType) else {
            throw Problem(message: "inbound.queue_type must be quorum or classic, got \(queueType)")
        }
        return DaemonSettings(amqp: amqp, codeBook: codeBook, names: Contract.Topology(), prefetch: UInt16(prefetch),
                              deliveryLimit: r.int(forKey: "inbound.delivery_limit", default: 5),
                              inboundQueueType: inboundQueueType)
    }

    /// The broker topology of docs/messages.md for this directory: one inbound topic
    /// exchange per sender bound to the quorum queue `ddrouter.inbound` (poison messages
    /// dead-lettered after `deliveryLimit` deliveries), the outbound topic exchange `dd.out`
    /// with one queue per recipient, and the dead-letter queue.
    public var topology: AMQP.Topology {
        let n = names
        var t = AMQP.Topology()
        t.exchanges.append(.init(name: "dd.dead", kind: .fanout))
        t.queues.append(.init(name: n.deadLetterQueue, kind: .quorum))
        t.bindings.append(.init(queue: n.deadLetterQueue, exchange: "dd.dead", routingKey: ""))
        var inboundArguments: [String: AMQPValue] = ["x-dead-letter-exchange": .string("dd.dead")]
        if inboundQueueType == .quorum { inboundArguments["x-delivery-limit"] = .int(Int64(deliveryLimit)) }
        t.queues.append(.init(name: n.inboundQueue, kind: inboundQueueType, arguments: inboundArguments))
        t.exchanges.append(.init(name: n.outboundExchange, kind: .topic))
        func inbound(_ prefix: String, _ id: String) {
            t.exchanges.append(.init(name: prefix + id, kind: .topic))
            t.bindings.append(.init(queue: n.inboundQueue, exchange: prefix + id, routingKey: "#"))
        }
        func outbound(_ template: String, _ audience: String, _ id: String) {
            let queue = template.replacingOccurrences(of: "{id}", with: id)
            t.queues.append(.init(name: queue, kind: .classic))
            t.bindings.append(.init(queue: queue, exchange: n.outboundExchange, routingKey: "\(audience).\(id).#"))
        }
        for code in codeBook.municipalities.sorted() {
            inbound(n.inboundMunicipalityExchangePrefix, code)
            outbound(n.municipalityQueueTemplate, "municipality", code)
        }
        for id in codeBook.clinics.sorted() {
            inbound(n.inboundClinicExchangePrefix, id)
            outbound(n.clinicQueueTemplate, "clinic", id)
        }
        for id in codeBook.journals.sorted() {
            inbound(n.inboundJournalExchangePrefix, id)
            outbound(n.journalQueueTemplate, "journal", id)
        }
        t.queues.append(.init(name: n.centralVisitationQueue, kind: .classic))
        t.bindings.append(.init(queue: n.centralVisitationQueue, exchange: n.outboundExchange, routingKey: "cv.#"))
        return t
    }

    /// The effective configuration as `check-config` prints it. Secrets are never shown.
    public var effectiveDescription: String {
        var lines: [String] = []
        lines.append("broker.endpoints: \(amqp.endpoints.map(\.description).joined(separator: ", "))")
        lines.append("broker.vhost: \(amqp.vhost)")
        switch amqp.authentication {
        case .plain(let user, let password):
            lines.append("broker.user: \(user)")
            lines.append("broker.password: \(password.isEmpty ? "(not set)" : "(redacted)")")
        case .external(let identity):
            lines.append("broker.external_login: true (identity \(identity))")
        }
        if let tls = amqp.tls {
            lines.append("broker.tls.ca_file: \(tls.caCertificatePath)")
            lines.append("broker.tls.cert_file: \(tls.clientCertificatePath ?? "(none)")")
            lines.append("broker.tls.key_file: \(tls.clientKeyPath == nil ? "(none)" : "(redacted path set)")")
            lines.append("broker.tls.verify_hostname: \(tls.verifyHostname)")
        } else {
            lines.append("broker.tls: off")
        }
        lines.append("broker.heartbeat_seconds: \(amqp.heartbeat.components.seconds)")
        lines.append("broker.publish_timeout_seconds: \(amqp.publishTimeout.components.seconds)")
        lines.append("directory.municipalities: \(codeBook.municipalities.sorted().joined(separator: ", "))")
        lines.append("directory.clinics: \(codeBook.clinics.sorted().joined(separator: ", "))")
        lines.append("directory.journals: \(codeBook.journals.sorted().joined(separator: ", "))")
        lines.append("inbound.prefetch: \(prefetch)")
        lines.append("inbound.delivery_limit: \(deliveryLimit)")
        lines.append("inbound.queue_type: \(inboundQueueType.rawValue)")
        return lines.joined(separator: "\n")
    }
}
