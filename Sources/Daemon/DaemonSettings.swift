public import AMQP
import Configuration
public import Contract
public import Workflow
import Foundation
import SystemPackage

/// What `ddrouter run` needs from its configuration file, with every key's default.
///
/// Keys (YAML; each can be overridden by an environment variable `DDROUTER_` + the key in
/// upper case with `.` as `_`, e.g. `DDROUTER_BROKER_PORT`; secrets also come from files in
/// `$CREDENTIALS_DIRECTORY`, see `ConfigSource`):
/// - `broker.host` (127.0.0.1), `broker.port` (5672), `broker.endpoints` (empty: several
///   `host:port` of a cluster, tried in order, instead of host and port), `broker.vhost` (ddrouter),
///   `broker.user` (ddrouter), `broker.password` (secret; credential `broker-password`),
///   `broker.password_file` (read if set; wins over `broker.password`),
///   `broker.heartbeat_seconds` (30), `broker.connect_timeout_seconds` (5),
///   `broker.publish_timeout_seconds` (30), `broker.tls.ca_file` (TLS on when set),
///   `broker.tls.cert_file`, `broker.tls.key_file` (default: the credential
///   `broker-tls-key` when present), `broker.tls.verify_hostname` (true),
///   `broker.external_login` (false: EXTERNAL with the client certificate instead of PLAIN)
/// - `directory.*`: see `Directory`
/// - `workflow.*`: see `WorkflowSettings`
/// - `inbound.prefetch` (200), `inbound.prefetch_mib` (8: the consuming connection stops
///   reading while the deliveries in hand hold more body bytes, see
///   `AMQPConfiguration.consumerByteLimit`), `inbound.delivery_limit` (5),
///   `inbound.queue_type` (quorum; `classic` for benchmarks and small single-node setups: no
///   delivery limit then)
public struct DaemonSettings: Sendable {
    /// The consuming connection (with the byte limit of `inbound.prefetch_mib`).
    public var amqp: AMQPConfiguration
    public var directory: Directory
    public var codeBook: CodeBook
    public var workflow: WorkflowConfiguration
    public var names: Contract.Topology
    public var prefetch: UInt16
    public var deliveryLimit: Int
    /// The type of `ddrouter.inbound`; only `.quorum` enforces `deliveryLimit`.
    public var inboundQueueType: AMQP.Topology.Queue.Kind = .quorum

    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
        public init(message: String) { self.message = message }
    }

    /// The credential file (in `$CREDENTIALS_DIRECTORY`) used as the TLS client key when
    /// `broker.tls.key_file` is not set.
    public static let tlsKeyCredential = "broker-tls-key"

    /// Loads the YAML file at `path`, with `DDROUTER_*` variables from `environment` on top.
    /// Throws `ConfigSource.Failure` listing every problem.
    public static func load(path: String, environment: [String: String]) async throws -> DaemonSettings {
        let reader = SettingsReader(try await ConfigSource.load(path: path, environment: environment))
        let settings = read(reader)
        if !reader.problems.isEmpty { throw ConfigSource.Failure(reader.problems) }
        return settings
    }

    /// Reads every key; problems are collected in `r`.
    public static func read(_ r: SettingsReader) -> DaemonSettings {
        let host = r.string("broker.host", default: "127.0.0.1") ?? "127.0.0.1"
        let port = r.int("broker.port", default: 5672, range: 1...65535)
        let user = r.string("broker.user", default: "ddrouter") ?? "ddrouter"
        var password = r.string("broker.password", default: "", secret: true) ?? ""
        if let file = r.string("broker.password_file") {
            if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                password = text.trimmingCharacters(in: .whitespacesAndNewlines)
            } else {
                r.problem("broker.password_file \(file) cannot be read")
            }
        }
        var tls: AMQPConfiguration.TLS?
        if let ca = r.string("broker.tls.ca_file") {
            var keyFile = r.string("broker.tls.key_file")
            if keyFile == nil, let directory = r.source.credentialsDirectory,
                FileManager.default.fileExists(atPath: directory + "/" + tlsKeyCredential)
            {
                keyFile = directory + "/" + tlsKeyCredential
            }
            tls = .init(caCertificatePath: ca, clientCertificatePath: r.string("broker.tls.cert_file"),
                        clientKeyPath: keyFile, verifyHostname: r.bool("broker.tls.verify_hostname", default: true))
            for (key, file) in [("broker.tls.ca_file", ca), ("broker.tls.cert_file", tls?.clientCertificatePath),
                                ("broker.tls.key_file", keyFile)]
            where file.map({ !FileManager.default.isReadableFile(atPath: $0) }) ?? false {
                r.problem("\(key) \(file ?? "") does not exist or is not readable")
            }
        }
        let external = r.bool("broker.external_login", default: false)
        if external && (tls?.clientCertificatePath == nil || tls?.clientKeyPath == nil) {
            r.problem("broker.external_login needs broker.tls.ca_file, broker.tls.cert_file and broker.tls.key_file")
        }
        // A cluster: several host:port, tried in order (each reconnect starts over).
        var endpoints: [AMQPConfiguration.Endpoint] = []
        for entry in r.stringArray("broker.endpoints", default: []) {
            let parts = entry.split(separator: ":")
            if parts.count == 2, let p = Int(parts[1]), (1...65535).contains(p), !parts[0].isEmpty {
                endpoints.append(.init(host: String(parts[0]), port: p))
            } else {
                r.problem("broker.endpoints: \"\(entry)\" is not host:port")
            }
        }
        if endpoints.isEmpty { endpoints = [.init(host: host, port: port)] }
        let amqp = AMQPConfiguration(
            endpoints: endpoints,
            vhost: r.string("broker.vhost", default: "ddrouter") ?? "ddrouter",
            authentication: external ? .external(identity: user) : .plain(user: user, password: password),
            tls: tls,
            heartbeat: .seconds(r.int("broker.heartbeat_seconds", default: 30, range: 0...3600)),
            connectTimeout: .seconds(r.int("broker.connect_timeout_seconds", default: 5, range: 1...600)),
            publishTimeout: .seconds(r.int("broker.publish_timeout_seconds", default: 30, range: 1...3600)),
            connectionName: "ddrouter",
            consumerByteLimit: r.int("inbound.prefetch_mib", default: 8, range: 1...1024) * 1024 * 1024)
        let directory = DirectorySettings.read(r)
        for problem in directory.problems(serviceUser: user) { r.problem(problem) }
        let workflow = WorkflowSettings.read(r)
        let prefetch = r.int("inbound.prefetch", default: 200, range: 1...65535)
        let deliveryLimit = r.int("inbound.delivery_limit", default: 5, range: 1...1000)
        let queueType = r.string("inbound.queue_type", default: "quorum") ?? "quorum"
        let inboundQueueType = AMQP.Topology.Queue.Kind(rawValue: queueType) ?? .quorum
        if AMQP.Topology.Queue.Kind(rawValue: queueType) == nil {
            r.problem("inbound.queue_type must be quorum or classic, got \"\(queueType)\"")
        }
        return DaemonSettings(amqp: amqp, directory: directory, codeBook: directory.codeBook, workflow: workflow,
                              names: Contract.Topology(), prefetch: UInt16(prefetch), deliveryLimit: deliveryLimit,
                              inboundQueueType: inboundQueueType)
    }

    /// The publishing connection: the same broker and login, named `ddrouter.publish`, no
    /// byte limit (it consumes nothing).
    public var publishingAMQP: AMQPConfiguration {
        var c = amqp
        c.connectionName = amqp.connectionName + ".publish"
        c.consumerByteLimit = nil
        return c
    }

    /// The broker user ddrouter itself connects as.
    public var serviceUser: String {
        switch amqp.authentication {
        case .plain(let user, _): user
        case .external(let identity): identity
        }
    }

    /// The broker topology of docs/messages.md for this directory: one inbound topic
    /// exchange per sender bound to the quorum queue `ddrouter.inbound` (poison messages
    /// dead-lettered after `deliveryLimit` deliveries), the outbound topic exchange `dd.out`
    /// with one durable quorum queue per recipient (docs/messages.md: replicated, so a
    /// partner's messages survive the loss of a broker node like the router's own), and the
    /// quorum dead-letter queue. A recipient queue an older version declared classic makes
    /// the declare fail (`TopologyHint`; docs/operations.md says how to move it over).
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
            t.queues.append(.init(name: queue, kind: .quorum))
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
        t.queues.append(.init(name: n.centralVisitationQueue, kind: .quorum))
        t.bindings.append(.init(queue: n.centralVisitationQueue, exchange: n.outboundExchange, routingKey: "cv.#"))
        return t
    }
}

extension DaemonSettings: ConfigKeyContributor {
    public static let configKeys: [ConfigKeySpec] = [
        .init("broker.host", default: "127.0.0.1"), .init("broker.port", default: "5672"),
        .init("broker.endpoints", default: "[]"),
        .init("broker.vhost", default: "ddrouter"), .init("broker.user", default: "ddrouter"),
        .init("broker.password", secret: true), .init("broker.password_file"),
        .init("broker.heartbeat_seconds", default: "30"), .init("broker.connect_timeout_seconds", default: "5"),
        .init("broker.publish_timeout_seconds", default: "30"),
        .init("broker.tls.ca_file"), .init("broker.tls.cert_file"), .init("broker.tls.key_file"),
        .init("broker.tls.verify_hostname", default: "true"), .init("broker.external_login", default: "false"),
        .init("inbound.prefetch", default: "200"), .init("inbound.prefetch_mib", default: "8"),
        .init("inbound.delivery_limit", default: "5"),
        .init("inbound.queue_type", default: "quorum"),
    ]
}
