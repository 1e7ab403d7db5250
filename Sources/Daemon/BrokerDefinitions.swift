import AMQP
public import Foundation

/// RabbitMQ definitions (the JSON that `rabbitmqctl import_definitions` and the
/// `definitions.local.path` setting read) derived from the directory: the vhost, one user per
/// sender, least-privilege permissions, and the topology `run` declares.
///
/// Users carry **no password** (empty `password_hash`): set one with
/// `rabbitmqctl change_password <user>` or, better, let them log in with a client
/// certificate (EXTERNAL). Every import clears the passwords of the users it names, hence
/// `definitions.skip_if_unchanged` in deploy/rabbitmq/rabbitmq.conf. The broker validates `user_id` against the connected user, and
/// ddrouter relies on that to know who sent a message.
///
/// User names: each sender's `broker_user` from the directory (defaults
/// `municipality-<code>`, `clinic-<id>`, `journal-<id>`, `central-visitation`), and the
/// service's own `broker.user`.
///
/// Permissions (regular expressions over exchange and queue names):
/// - a municipality writes only to `dd.in.municipality.<code>` and reads only
///   `dd.municipality.<code>.inbox`; a clinic and a journal likewise with their own names;
///   Central Visitation reads only `dd.cv.referrals`; none may configure anything, and none
///   may write to the default exchange (so nobody reaches `ddrouter.inbound` around the
///   sender exchanges);
/// - the service user may configure, write and read `dd.*` and `ddrouter.*` only; it has
///   the `impersonator` tag so `ddrouter dlq requeue` can republish a dead message with the
///   sender's original `user_id` (no sender has it: a sender cannot forge one).
public enum BrokerDefinitions {
    public static func make(settings: DaemonSettings) -> [String: Any] {
        let vhost = settings.amqp.vhost
        let names = settings.names
        var users: [[String: Any]] = []
        var permissions: [[String: Any]] = []
        func user(_ name: String, tags: [String] = []) {
            users.append(["name": name, "password_hash": "", "hashing_algorithm": "rabbit_password_hashing_sha256",
                          "tags": tags, "limits": [String: Any]()])
        }
        func permit(_ name: String, configure: String = "^$", write: String, read: String) {
            permissions.append(["user": name, "vhost": vhost, "configure": configure, "write": write, "read": read])
        }
        func exact(_ s: String) -> String { "^" + NSRegularExpression.escapedPattern(for: s) + "$" }
        func template(_ t: String, _ id: String) -> String { t.replacingOccurrences(of: "{id}", with: id) }

        let service = settings.serviceUser
        let directory = settings.directory
        // impersonator: `ddrouter dlq requeue` republishes a dead message with its original
        // user_id. The service user can already write every dd.* exchange; senders cannot.
        user(service, tags: ["impersonator"])
        permit(service, configure: "^(dd|ddrouter)\\..*", write: "^(dd|ddrouter)\\..*", read: "^(dd|ddrouter)\\..*")
        for m in directory.municipalities.sorted(by: { $0.code < $1.code }) {
            user(m.brokerUser)
            permit(m.brokerUser, write: exact(names.inboundMunicipalityExchangePrefix + m.code),
                   read: exact(template(names.municipalityQueueTemplate, m.code)))
        }
        for c in directory.clinics.sorted(by: { $0.id < $1.id }) {
            user(c.brokerUser)
            permit(c.brokerUser, write: exact(names.inboundClinicExchangePrefix + c.id),
                   read: exact(template(names.clinicQueueTemplate, c.id)))
        }
        for j in directory.journals.sorted(by: { $0.id < $1.id }) {
            user(j.brokerUser)
            permit(j.brokerUser, write: exact(names.inboundJournalExchangePrefix + j.id),
                   read: exact(template(names.journalQueueTemplate, j.id)))
        }
        user(directory.centralVisitationUser)
        permit(directory.centralVisitationUser, write: "^$", read: exact(names.centralVisitationQueue))

        let topology = settings.topology
        let exchanges: [[String: Any]] = topology.exchanges.map {
            ["name": $0.name, "vhost": vhost, "type": $0.kind.rawValue, "durable": $0.durable,
             "auto_delete": $0.autoDelete, "internal": $0.internal, "arguments": json($0.arguments)]
        }
        let queues: [[String: Any]] = topology.queues.map {
            var args = json($0.arguments)
            args["x-queue-type"] = $0.kind.rawValue
            return ["name": $0.name, "vhost": vhost, "durable": $0.durable, "auto_delete": $0.autoDelete, "arguments": args]
        }
        let bindings: [[String: Any]] = topology.bindings.map {
            ["source": $0.exchange, "vhost": vhost, "destination": $0.queue, "destination_type": "queue",
             "routing_key": $0.routingKey, "arguments": json($0.arguments)]
        }
        return [
            "rabbit_version": "3.10.8", "rabbitmq_version": "3.10.8",
            "vhosts": [["name": vhost]], "users": users, "permissions": permissions,
            "topic_permissions": [Any](), "parameters": [Any](), "global_parameters": [Any](), "policies": [Any](),
            "exchanges": exchanges, "queues": queues, "bindings": bindings,
        ]
    }

    public static func json(settings: DaemonSettings) throws -> Data {
        try JSONSerialization.data(withJSONObject: make(settings: settings), options: [.prettyPrinted, .sortedKeys])
    }

    static func json(_ args: [String: AMQPValue]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (k, v) in args {
            switch v {
            case .string(let s): out[k] = s
            case .int(let i): out[k] = i
            case .bool(let b): out[k] = b
            case .double(let d): out[k] = d
            case .timestamp(let t): out[k] = t
            case .bytes, .table, .array, .void, .unsupported: continue  // not used in the topology
            }
        }
        return out
    }
}
