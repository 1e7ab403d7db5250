import CRabbitMQ
import CRabbitMQShims
import Foundation
import Logging

private let consumeChannel: UInt16 = 1
private let publishChannel: UInt16 = 2
private let adminChannel: UInt16 = 3
private let maxInFlight = 4096
/// How many of the largest unsettled deliveries the consumer byte limit leaves out (see `holdReading`).
private let uncountedLargest = 2

/// The I/O thread's state. Only that thread touches an instance (see `AMQPClient.start`).
// @unchecked Sendable: created on the caller's thread, then used solely by the I/O thread.
final class IOLoop: @unchecked Sendable {
    private let client: AMQPClient
    private var config: AMQPConfiguration { client.configuration }
    private var logger: Logger
    private var machine: ConnectionStateMachine

    private var conn: amqp_connection_state_t?
    private var endpoint: String = ""
    private var consumers: [Consumer] = []
    private var queued: [PendingPublish] = []
    private var queuedHead = 0
    private var inFlight: [UInt64: PendingPublish] = [:]
    private var inFlightOrder: [UInt64] = []
    private var inFlightHead = 0
    private var nextSeq: UInt64 = 1
    private var consumeGeneration: UInt64 = 0
    private var adminChannelOpen = false
    private var staleSettles = 0
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Body bytes of the deliveries handed to consumers and not yet settled, by delivery tag
    /// (current consume channel only), their sum, and the `uncountedLargest` largest of them
    /// (tag and size, largest first): `config.consumerByteLimit` counts the sum without those.
    private var unsettled: [UInt64: Int] = [:]
    private var unsettledBytes = 0
    private var largestUnsettled: [(tag: UInt64, bytes: Int)] = []
    /// A delivery whose method and header are read and whose body is not: it is read when it
    /// fits the byte limit (see `holdReading`).
    private var pendingBody: PendingBody?
    private var readingPaused = false
    private var lastHeartbeatSent = ContinuousClock.now
    private var rng = SystemRandomNumberGenerator()

    init(client: AMQPClient) {
        self.client = client
        self.logger = client.logger
        self.machine = ConnectionStateMachine(backoff: client.configuration.backoff)
    }

    // MARK: Life cycle

    func run() {
        var action = machine.start()
        while true {
            tick()
            switch action {
            case .connect:
                do {
                    try connect()
                    action = (try? machine.connectSucceeded()) ?? .shutDown
                    client.shared.withLock { $0.connectedEndpoint = endpoint; $0.blockedReason = nil; $0.lastConnectError = nil }
                    updateConsuming()
                    logger.info("connected to broker", metadata: ["amqp.endpoint": "\(endpoint)", "amqp.vhost": "\(config.vhost)"])
                    client.emit(.connected(endpoint: endpoint))
                } catch {
                    logger.warning("broker connection failed", metadata: ["amqp.error": "\(error)", "amqp.attempt": "\(machine.attempt)"])
                    // Recorded before the event: a follower of `events` reads `lastConnectError`.
                    lastConnectError = error
                    client.shared.withLock { $0.lastConnectError = error }
                    client.emit(.disconnected(reason: error.description))
                    action = (try? machine.connectFailed(jitter: Double.random(in: 0..<1, using: &rng))) ?? .shutDown
                }
            case .serve:
                switch serve() {
                case .closeRequested:
                    action = machine.closeRequested()
                case .lost(let error):
                    logger.warning("broker connection lost", metadata: ["amqp.error": "\(error)"])
                    client.shared.withLock { $0.connectedEndpoint = nil; $0.blockedReason = nil }
                    client.emit(.disconnected(reason: error.description))
                    dropConnection()
                    updateConsuming()
                    action = (try? machine.connectionLost(jitter: Double.random(in: 0..<1, using: &rng))) ?? .shutDown
                }
            case .scheduleReconnect(let delay, let failInFlight):
                if failInFlight { failAllInFlight(AMQPError(.connectionLost, "connection lost before the broker confirmed the message; send it again")) }
                if waitBeforeReconnect(delay) {
                    action = (try? machine.backoffElapsed()) ?? .shutDown
                } else {
                    action = machine.closeRequested()
                }
            case .holdPublishes, .resumePublishes, .none:
                // Only returned by blocked/unblocked/start-after-start, handled in serve().
                action = machine.isClosed ? .shutDown : .serve
            case .shutDown:
                shutDown()
                return
            }
        }
    }

    private var lastConnectError: AMQPError?

    /// The I/O thread is alive (see `AMQPClient.ioLoopSilence`).
    private func tick() { client.ioTick.store(Watchdog.now(), ordering: .relaxed) }

    /// Publishes which queues have an accepted consumer on the live connection.
    private func updateConsuming() {
        let queues: Set<String> = conn == nil ? [] : Set(consumers.map(\.queue))
        client.shared.withLock { $0.consumingQueues = queues }
    }

    private enum ServeExit {
        case closeRequested
        case lost(AMQPError)
    }

    // MARK: Connecting

    private func connect() throws(AMQPError) {
        var last = AMQPError(.unreachable, "no broker endpoints are configured")
        for ep in config.endpoints {
            do {
                try connect(to: ep)
                endpoint = ep.description
                return
            } catch {
                last = error
                logger.debug("endpoint failed", metadata: ["amqp.endpoint": "\(ep)", "amqp.error": "\(error)"])
            }
        }
        throw last
    }

    private func connect(to ep: AMQPConfiguration.Endpoint) throws(AMQPError) {
        guard let c = amqp_new_connection() else { throw AMQPError(.library, "rabbitmq-c could not allocate a connection") }
        var success = false
        defer { if !success { amqp_destroy_connection(c) } }

        let socket: OpaquePointer?
        if let tls = config.tls {
            socket = amqp_ssl_socket_new(c)
            guard let socket else { throw AMQPError(.tls, "could not create a TLS socket (OpenSSL initialisation failed)") }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyHostname ? 1 : 0)
            if amqp_ssl_socket_set_cacert(socket, tls.caCertificatePath) != 0 {
                throw AMQPError(.tls, "cannot load CA certificates from \(tls.caCertificatePath): check the path and that it holds PEM certificates")
            }
            if let cert = tls.clientCertificatePath, let key = tls.clientKeyPath {
                if amqp_ssl_socket_set_key(socket, cert, key) != 0 {
                    throw AMQPError(.tls, "cannot load client certificate \(cert) with key \(key): check the paths, the PEM format and that the key matches the certificate")
                }
            }
        } else {
            socket = amqp_tcp_socket_new(c)
        }
        guard let socket else { throw AMQPError(.library, "rabbitmq-c could not create a socket") }

        var connectTV = timeval(config.connectTimeout)
        let status = amqp_socket_open_noblock(socket, ep.host, Int32(ep.port), &connectTV)
        if status != AMQP_STATUS_OK.rawValue {
            throw openError(status, ep)
        }
        var handshakeTV = timeval(config.connectTimeout)
        amqp_set_handshake_timeout(c, &handshakeTV)
        var rpcTV = timeval(config.rpcTimeout)
        amqp_set_rpc_timeout(c, &rpcTV)

        let heartbeat = Int32(config.heartbeat.components.seconds)
        let reply: amqp_rpc_reply_t
        switch config.authentication {
        case .plain(let user, let password):
            reply = CRabbitMQShims_login(c, config.vhost, 16, Int32(config.frameMax), heartbeat, "ddrouter", "0.1.0",
                                         config.connectionName, CRabbitMQShims_SASL_PLAIN, user, password)
        case .external(let identity):
            reply = CRabbitMQShims_login(c, config.vhost, 16, Int32(config.frameMax), heartbeat, "ddrouter", "0.1.0",
                                         config.connectionName, CRabbitMQShims_SASL_EXTERNAL, identity, "")
        }
        try checkLogin(reply, c, ep)

        conn = c
        do {
            try openChannel(consumeChannel)
            try openChannel(publishChannel)
            amqp_confirm_select(c, publishChannel)
            try check(amqp_get_rpc_reply(c), "enabling publisher confirms", channel: publishChannel)
            nextSeq = 1
            inFlight.removeAll()
            inFlightOrder.removeAll()
            inFlightHead = 0
            adminChannelOpen = false
            consumeGeneration &+= 1
            try declareTopology()
            for consumer in consumers {
                try subscribe(consumer)
            }
        } catch {
            conn = nil
            throw error
        }
        success = true
    }

    private func openError(_ status: Int32, _ ep: AMQPConfiguration.Endpoint) -> AMQPError {
        let text = libraryErrorString(status)
        switch status {
        case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
            return AMQPError(.tls, "TLS: the broker's certificate does not name host \(ep.host) (hostname verification failed at \(ep))")
        case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue:
            return AMQPError(.tls, "TLS: the broker's certificate at \(ep) is not signed by the configured CA (peer verification failed)")
        case AMQP_STATUS_SSL_ERROR.rawValue, AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue:
            return AMQPError(.tls, "TLS handshake with \(ep) failed: \(text) (is it a TLS port, and does the CA match?)")
        case AMQP_STATUS_TIMEOUT.rawValue:
            return AMQPError(.unreachable, "no answer from \(ep) within \(config.connectTimeout)")
        default:
            return AMQPError(.unreachable, "cannot connect to \(ep): \(text)")
        }
    }

    private func checkLogin(_ r: amqp_rpc_reply_t, _ c: amqp_connection_state_t, _ ep: AMQPConfiguration.Endpoint) throws(AMQPError) {
        let user = config.authentication.user
        switch r.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION where r.reply.id == Method.connectionClose:
            let m = r.reply.decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let text = m.reply_text.string
            var ok = amqp_connection_close_ok_t()
            _ = amqp_send_method(c, 0, Method.connectionCloseOk, &ok)
            switch m.reply_code {
            case 403:
                throw AMQPError(.authenticationFailed, "broker at \(ep) refused login for user '\(user)' on vhost '\(config.vhost)': \(text)", replyCode: 403)
            case 530:
                throw AMQPError(.vhostAccessRefused, "user '\(user)' may not use vhost '\(config.vhost)' at \(ep): \(text) (check the user's permissions and that the vhost exists)", replyCode: 530)
            default:
                throw AMQPError(.connectionLost, "broker at \(ep) closed the connection during login: \(text)", replyCode: m.reply_code)
            }
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = r.library_error
            if status == AMQP_STATUS_TIMEOUT.rawValue {
                throw AMQPError(.timeout, "no AMQP handshake from \(ep) within \(config.connectTimeout)")
            }
            if status == AMQP_STATUS_CONNECTION_CLOSED.rawValue || status == AMQP_STATUS_SOCKET_CLOSED.rawValue {
                throw AMQPError(.authenticationFailed, "broker at \(ep) closed the connection during login for user '\(user)' on vhost '\(config.vhost)' (wrong credentials, unknown user, or a mechanism the broker does not allow)")
            }
            throw AMQPError(.library, "login to \(ep) failed: \(libraryErrorString(status))")
        default:
            throw AMQPError(.library, "login to \(ep) failed with an unexpected reply")
        }
    }

    private func openChannel(_ ch: UInt16) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        amqp_channel_open(c, ch)
        try check(amqp_get_rpc_reply(c), "opening channel \(ch)", channel: ch)
    }

    /// Turns a reply into an error. A channel.close from the broker is answered (close-ok)
    /// and the channel is reopened where that is ours to do; a connection.close is answered
    /// and reported as a lost connection.
    private func check(_ r: amqp_rpc_reply_t, _ what: String, channel: UInt16) throws(AMQPError) {
        tick()
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected while \(what)") }
        switch r.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if r.reply.id == Method.channelClose {
                let m = r.reply.decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                let text = m.reply_text.string
                var ok = amqp_channel_close_ok_t()
                _ = amqp_send_method(c, channel, Method.channelCloseOk, &ok)
                if channel == adminChannel { adminChannelOpen = false }
                throw AMQPError(.channelClosed, "broker refused \(what): \(text)", replyCode: m.reply_code)
            }
            if r.reply.id == Method.connectionClose {
                let m = r.reply.decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                var ok = amqp_connection_close_ok_t()
                _ = amqp_send_method(c, 0, Method.connectionCloseOk, &ok)
                throw AMQPError(.connectionLost, "broker closed the connection while \(what): \(m.reply_text.string)", replyCode: m.reply_code)
            }
            throw AMQPError(.library, "unexpected broker reply while \(what)")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = r.library_error
            if status == AMQP_STATUS_TIMEOUT.rawValue {
                throw AMQPError(.timeout, "no broker answer within \(config.rpcTimeout) while \(what)")
            }
            throw AMQPError(.connectionLost, "\(what) failed: \(libraryErrorString(status))")
        default:
            throw AMQPError(.library, "no reply while \(what)")
        }
    }

    private func declareTopology() throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        let topology = client.topology
        do {
            for ex in topology.exchanges {
                let arena = CArena()
                amqp_exchange_declare(c, publishChannel, arena.bytes(ex.name), arena.bytes(ex.kind.rawValue), 0,
                                      ex.durable ? 1 : 0, ex.autoDelete ? 1 : 0, ex.internal ? 1 : 0, arena.table(ex.arguments))
                try check(amqp_get_rpc_reply(c), "declaring exchange '\(ex.name)'", channel: publishChannel)
            }
            for q in topology.queues {
                let arena = CArena()
                amqp_queue_declare(c, publishChannel, arena.bytes(q.name), 0, q.durable ? 1 : 0, q.exclusive ? 1 : 0,
                                   q.autoDelete ? 1 : 0, arena.table(q.declaredArguments))
                try check(amqp_get_rpc_reply(c), "declaring queue '\(q.name)'", channel: publishChannel)
            }
            for b in topology.bindings {
                let arena = CArena()
                amqp_queue_bind(c, publishChannel, arena.bytes(b.queue), arena.bytes(b.exchange), arena.bytes(b.routingKey),
                                arena.table(b.arguments))
                try check(amqp_get_rpc_reply(c), "binding queue '\(b.queue)' to exchange '\(b.exchange)' with key '\(b.routingKey)'", channel: publishChannel)
            }
        } catch where error.code == .channelClosed {
            // A declaration the broker refuses (e.g. arguments that differ from the existing
            // queue's) is a configuration problem: say so and keep retrying with backoff.
            throw AMQPError(.topology, error.message + " (does an existing exchange or queue have different arguments?)", replyCode: error.replyCode)
        }
    }

    private func subscribe(_ consumer: Consumer) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        amqp_basic_qos(c, consumeChannel, 0, consumer.prefetch, 0)
        try check(amqp_get_rpc_reply(c), "setting prefetch for queue '\(consumer.queue)'", channel: consumeChannel)
        let arena = CArena()
        amqp_basic_consume(c, consumeChannel, arena.bytes(consumer.queue), arena.bytes(consumer.tag), 0, 0, 0,
                           amqp_table_t(num_entries: 0, entries: nil))
        try check(amqp_get_rpc_reply(c), "subscribing to queue '\(consumer.queue)'", channel: consumeChannel)
    }

    // MARK: Serving

    private func serve() -> ServeExit {
        guard let c = conn else { return .lost(AMQPError(.connectionLost, "not connected")) }
        let fd = amqp_get_sockfd(c)
        let idlePoll: Int32 = config.tls == nil ? 100 : 20
        while true {
            tick()
            do {
                if try runCommands() { return .closeRequested }
                try flushPublishes()
                expireDeadlines()
                if updateReadingPaused() {
                    try sendHeartbeatIfDue(c)
                    var wake = [pollfd(fd: client.wake.readFD, events: Int16(POLLIN), revents: 0)]
                    _ = poll(&wake, 1, nextPollTimeout(idle: idlePoll))
                    if wake[0].revents != 0 { client.wake.drain() }
                    continue
                }
                var frames = 0
                while frames < 512, !holdReading, amqp_frames_enqueued(c) != 0 || amqp_data_in_buffer(c) != 0 {
                    guard try readFrame() else { break }
                    frames += 1
                }
                if frames > 0 { continue }
                var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: client.wake.readFD, events: Int16(POLLIN), revents: 0)]
                _ = poll(&fds, 2, nextPollTimeout(idle: idlePoll))
                if fds[1].revents != 0 { client.wake.drain() }
                // Always give rabbitmq-c a turn: it sends our heartbeats and notices missed ones.
                while !holdReading, try readFrame() {
                    frames += 1
                    if frames >= 512 { break }
                }
                if amqp_frames_enqueued(c) == 0 { amqp_maybe_release_buffers(c) }
            } catch {
                return .lost(error)
            }
        }
    }

    /// Whether reading stops for now (`AMQPConfiguration.consumerByteLimit`): consumers hold
    /// more unsettled body bytes than the limit and no publish awaits a confirm. Logs each
    /// change.
    private func updateReadingPaused() -> Bool {
        let pause = holdReading
        if pause != readingPaused {
            readingPaused = pause
            if pause { lastHeartbeatSent = .now }
            logger.info(pause ? "reading deliveries paused: consumers hold the byte limit" : "reading deliveries resumed", metadata: [
                "amqp.unsettled.bytes": "\(unsettledBytes)", "amqp.unsettled.deliveries": "\(unsettled.count)",
                "amqp.unsettled.largest_bytes": "\(largestUnsettled.first?.bytes ?? 0)",
                "amqp.waiting_body_bytes": "\(pendingBody?.size ?? 0)",
                "amqp.consumer.byte_limit": "\(config.consumerByteLimit ?? 0)",
            ])
        }
        return pause
    }

    /// Read no further frame for now: consumers hold more unsettled body bytes than
    /// `config.consumerByteLimit` (not counting their two largest deliveries), or the body
    /// whose header was read last would take them over it, and no publish awaits a confirm
    /// (which would come on this connection). The two largest are left out so that one big
    /// message being worked on (a list in slices) and one waiting its turn behind it (the same
    /// sender's next list) do not stop the deliveries of other senders behind them; a third
    /// big one waits in the socket, before its body, until one of the two is settled.
    private var holdReading: Bool {
        guard let limit = config.consumerByteLimit, inFlight.isEmpty, queuedHead == queued.count else { return false }
        return countedBytes(adding: pendingBody?.size ?? 0) > limit
    }

    /// The unsettled bytes the limit counts if a delivery of `extra` bytes joined them: the
    /// sum less the `uncountedLargest` largest (of the held ones and the new one).
    private func countedBytes(adding extra: Int) -> Int {
        var top = largestUnsettled.map(\.bytes)
        top.append(extra)
        top.sort(by: >)
        return unsettledBytes + extra - top.prefix(uncountedLargest).reduce(0, +)
    }

    /// Records a delivery handed to its consumer for the byte limit.
    private func holdUnsettled(tag: UInt64, bytes: Int) {
        unsettled[tag] = bytes
        unsettledBytes += bytes
        largestUnsettled.append((tag, bytes))
        largestUnsettled.sort { $0.bytes > $1.bytes }
        if largestUnsettled.count > uncountedLargest { largestUnsettled.removeLast() }
    }

    /// While reading is paused rabbitmq-c sends no heartbeats (it does so only inside its
    /// read calls): send one at half the negotiated interval so the broker keeps the connection.
    private func sendHeartbeatIfDue(_ c: amqp_connection_state_t) throws(AMQPError) {
        let interval = amqp_get_heartbeat(c)
        guard interval > 0, ContinuousClock.now - lastHeartbeatSent >= .milliseconds(Int(interval) * 500) else { return }
        var frame = amqp_frame_t()
        frame.frame_type = UInt8(AMQP_FRAME_HEARTBEAT)
        frame.channel = 0
        let status = amqp_send_frame(c, &frame)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(.connectionLost, "sending a heartbeat failed: \(libraryErrorString(status))")
        }
        lastHeartbeatSent = .now
    }

    /// Forgets what consumers held on the consume channel (reconnect, channel reopened).
    private func resetUnsettled() {
        unsettled.removeAll()
        unsettledBytes = 0
        largestUnsettled = []
        pendingBody = nil
    }

    private func nextPollTimeout(idle: Int32) -> Int32 {
        var ms = idle
        let now = ContinuousClock.now
        if queuedHead < queued.count {
            let first = queued[queuedHead].deadline  // the oldest: see expireDeadlines
            ms = min(ms, max(1, Int32(clamping: Int64((first - now).seconds * 1000) + 1)))
        }
        return ms
    }

    /// Reads and handles one frame. Returns false when none was waiting.
    private func readFrame() throws(AMQPError) -> Bool {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        if let pending = pendingBody {
            pendingBody = nil
            try readBody(pending)
            return true
        }
        var frame = amqp_frame_t()
        var tv = timeval(tv_sec: 0, tv_usec: 1)
        let status = amqp_simple_wait_frame_noblock(c, &frame, &tv)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return false }
        try checkFrameStatus(status)
        try handle(frame)
        return true
    }

    private func checkFrameStatus(_ status: Int32) throws(AMQPError) {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        if status == AMQP_STATUS_HEARTBEAT_TIMEOUT.rawValue {
            throw AMQPError(.connectionLost, "no heartbeat from the broker at \(endpoint) for two intervals (\(config.heartbeat) each)")
        }
        throw AMQPError(.connectionLost, "connection to \(endpoint) failed: \(libraryErrorString(status))")
    }

    /// The next frame of `channel` (a delivery's header or body), waiting for it; a method
    /// frame of another channel that comes first (a confirm) is handled on the way.
    private func nextContentFrame(on channel: UInt16, type: UInt8) throws(AMQPError) -> amqp_frame_t {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        while true {
            var frame = amqp_frame_t()
            try checkFrameStatus(amqp_simple_wait_frame(c, &frame))
            if frame.channel == channel {
                guard frame.frame_type == type else {
                    throw AMQPError(.connectionLost, "unexpected frame type \(frame.frame_type) inside a delivery on channel \(channel)")
                }
                return frame
            }
            try handle(frame)
        }
    }

    private func handle(_ frame: amqp_frame_t) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        guard frame.frame_type == FrameType.method else { return }
        let channel = frame.channel
        let method = frame.payload.method
        switch method.id {
        case Method.basicDeliver:
            let d = method.decoded!.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            try handleDeliver(channel: channel, tagValue: d.delivery_tag, redelivered: d.redelivered != 0,
                              consumerTag: d.consumer_tag.string, exchange: d.exchange.string, routingKey: d.routing_key.string)
        case Method.basicAck:
            let a = method.decoded!.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            confirm(upTo: a.delivery_tag, multiple: a.multiple != 0, nacked: false)
        case Method.basicNack:
            let n = method.decoded!.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            confirm(upTo: n.delivery_tag, multiple: n.multiple != 0, nacked: true)
        case Method.basicReturn:
            let r = method.decoded!.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let code = r.reply_code, text = r.reply_text.string, exchange = r.exchange.string, key = r.routing_key.string
            var message = amqp_message_t()
            let reply = amqp_read_message(c, channel, &message, 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                throw AMQPError(.connectionLost, "reading a returned message failed")
            }
            let messageID = (message.properties._flags & CRabbitMQShims_basic_flag_message_id()) != 0
                ? message.properties.message_id.string : nil
            amqp_destroy_message(&message)
            markReturned(exchange: exchange, routingKey: key, messageID: messageID, code: code, text: text)
        case Method.basicCancel:
            let m = method.decoded!.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            try handleCancel(consumerTag: m.consumer_tag.string)
        case Method.channelClose:
            let m = method.decoded!.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let code = m.reply_code, text = m.reply_text.string
            var ok = amqp_channel_close_ok_t()
            if amqp_send_method(c, channel, Method.channelCloseOk, &ok) != 0 {
                throw AMQPError(.connectionLost, "answering channel.close failed")
            }
            try handleChannelClosed(channel, code: code, text: text)
        case Method.connectionClose:
            let m = method.decoded!.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let code = m.reply_code, text = m.reply_text.string
            var ok = amqp_connection_close_ok_t()
            _ = amqp_send_method(c, 0, Method.connectionCloseOk, &ok)
            throw AMQPError(.connectionLost, "broker closed the connection: \(text)", replyCode: code)
        case Method.connectionBlocked:
            let m = method.decoded!.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            let reason = m.reason.string
            _ = try? machine.blocked(reason: reason)
            client.shared.withLock { $0.blockedReason = reason }
            logger.warning("broker blocked publishing", metadata: ["amqp.reason": "\(reason)"])
            client.emit(.blocked(reason: reason))
        case Method.connectionUnblocked:
            _ = try? machine.unblocked()
            client.shared.withLock { $0.blockedReason = nil }
            logger.info("broker unblocked publishing")
            client.emit(.unblocked)
        default:
            logger.debug("ignoring unexpected method", metadata: ["amqp.method": "\(method.id)", "amqp.channel": "\(channel)"])
        }
    }

    /// What is known of a delivery once its method and header frames are read.
    private struct PendingBody {
        var channel: UInt16
        var tag: UInt64
        var redelivered: Bool
        var consumerTag: String
        var exchange: String
        var routingKey: String
        var properties: MessageProperties
        var size: Int
    }

    /// Reads a delivery's header; its body is read by the next `readFrame` (at once, unless
    /// the byte limit holds it back: `holdReading`).
    private func handleDeliver(channel: UInt16, tagValue: UInt64, redelivered: Bool, consumerTag: String,
                               exchange: String, routingKey: String) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        let header = try nextContentFrame(on: channel, type: FrameType.header)
        guard let decoded = header.payload.properties.decoded else {
            throw AMQPError(.connectionLost, "a delivery's header on channel \(channel) has no properties")
        }
        let pending = PendingBody(
            channel: channel, tag: tagValue, redelivered: redelivered, consumerTag: consumerTag,
            exchange: exchange, routingKey: routingKey,
            properties: CDecode.properties(decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee),
            size: Int(header.payload.properties.body_size))
        amqp_maybe_release_buffers_on_channel(c, channel)
        if !consumers.contains(where: { $0.tag == consumerTag }) || config.consumerByteLimit == nil {
            try readBody(pending)
        } else {
            pendingBody = pending
        }
    }

    private func readBody(_ pending: PendingBody) throws(AMQPError) {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
        var body = Data(capacity: pending.size)
        while body.count < pending.size {
            let frame = try nextContentFrame(on: pending.channel, type: FrameType.body)
            let fragment = frame.payload.body_fragment
            if fragment.len > 0, let bytes = fragment.bytes {
                body.append(bytes.assumingMemoryBound(to: UInt8.self), count: fragment.len)
            }
            // Each frame stays in the channel's pool until released: without this a burst of
            // 16 MiB list deliveries kept up to 512 frames (64 MiB) there besides the bodies
            // (docs/performance.md, "Memory").
            amqp_maybe_release_buffers_on_channel(c, pending.channel)
        }
        guard body.count == pending.size else {
            throw AMQPError(.connectionLost, "a delivery's body on channel \(pending.channel) is longer than its header says")
        }
        // Looked up now, not at the header: the consumer may have been cancelled while the
        // body waited.
        guard let consumer = consumers.first(where: { $0.tag == pending.consumerTag }) else {
            // A consumer we cancelled: give the message back right away.
            _ = amqp_basic_reject(c, pending.channel, pending.tag, 1)
            return
        }
        let delivery = Delivery(
            body: body, properties: pending.properties, exchange: pending.exchange,
            routingKey: pending.routingKey, redelivered: pending.redelivered, consumerTag: consumer.tag, queue: consumer.queue,
            tag: DeliveryTag(channelGeneration: consumeGeneration, value: pending.tag))
        if config.consumerByteLimit != nil { holdUnsettled(tag: pending.tag, bytes: body.count) }
        consumer.continuation.yield(delivery)
    }

    private func handleCancel(consumerTag: String) throws(AMQPError) {
        guard let consumer = consumers.first(where: { $0.tag == consumerTag }) else { return }
        logger.warning("broker cancelled consumer; redeclaring and resubscribing", metadata: ["amqp.queue": "\(consumer.queue)"])
        client.emit(.consumerCancelled(queue: consumer.queue))
        try declareTopology()
        do {
            try subscribe(consumer)
            client.emit(.resubscribed(queue: consumer.queue))
        } catch where error.code == .channelClosed {
            try reopenConsumeChannel()
        }
    }

    private func handleChannelClosed(_ channel: UInt16, code: UInt16, text: String) throws(AMQPError) {
        logger.warning("broker closed a channel", metadata: ["amqp.channel": "\(channel)", "amqp.code": "\(code)", "amqp.reason": "\(text)"])
        defer {
            let role = channel == consumeChannel ? "consume" : channel == publishChannel ? "publish" : "admin"
            client.emit(.channelClosed(channel: role, code: code, reason: text))
        }
        switch channel {
        case publishChannel:
            failAllInFlight(AMQPError(.channelClosed, "broker closed the publishing channel: \(text)", replyCode: code))
            try openChannel(publishChannel)
            guard let c = conn else { throw AMQPError(.connectionLost, "not connected") }
            amqp_confirm_select(c, publishChannel)
            try check(amqp_get_rpc_reply(c), "enabling publisher confirms", channel: publishChannel)
            nextSeq = 1
        case consumeChannel:
            try reopenConsumeChannel()
        case adminChannel:
            adminChannelOpen = false
        default:
            break
        }
    }

    /// Reopens the consuming channel under a new generation and subscribes every consumer
    /// again; a consumer whose queue cannot be subscribed is ended with the broker's reason.
    private func reopenConsumeChannel() throws(AMQPError) {
        consumeGeneration &+= 1
        resetUnsettled()
        try openChannel(consumeChannel)
        var kept: [Consumer] = []
        for consumer in consumers {
            do {
                try subscribe(consumer)
                kept.append(consumer)
            } catch where error.code == .channelClosed {
                consumer.continuation.finish(throwing: error)
                try openChannel(consumeChannel)
            }
        }
        consumers = kept
        updateConsuming()
    }

    // MARK: Commands

    /// Runs queued commands. Returns true when a close was requested.
    private func runCommands() throws(AMQPError) -> Bool {
        var closeRequested = false
        for command in client.takeCommands() {
            switch command {
            case .publish(let p):
                queued.append(p)
            case .settle(let tag, let how):
                try settle(tag, how)
            case .subscribe(let consumer):
                consumers.append(consumer)
                if conn != nil {
                    do {
                        try subscribe(consumer)
                    } catch where error.code == .channelClosed {
                        consumers.removeLast()
                        consumer.continuation.finish(throwing: error)
                        try reopenConsumeChannel()
                    }
                }
                updateConsuming()
            case .stopConsuming(let cont):
                if let c = conn {
                    for consumer in consumers {
                        let arena = CArena()
                        amqp_basic_cancel(c, consumeChannel, arena.bytes(consumer.tag))
                        try check(amqp_get_rpc_reply(c), "cancelling consumer on '\(consumer.queue)'", channel: consumeChannel)
                    }
                }
                for consumer in consumers { consumer.continuation.finish() }
                consumers.removeAll()
                updateConsuming()
                cont.resume()
            case .admin(let op, let cont):
                do {
                    cont.resume(returning: try runAdmin(op))
                } catch where error.code == .channelClosed || error.code == .invalidArgument {
                    cont.resume(throwing: error)
                } catch {
                    cont.resume(throwing: error)
                    throw error
                }
            case .close(let cont):
                closeWaiters.append(cont)
                closeRequested = true
            }
        }
        return closeRequested
    }

    private func settle(_ tag: DeliveryTag, _ how: Settle) throws(AMQPError) {
        guard let c = conn, tag.channelGeneration == consumeGeneration else {
            staleSettles += 1
            client.emit(.staleAcksDropped(count: staleSettles))
            return
        }
        let status: Int32
        switch how {
        case .ack(let multiple): status = amqp_basic_ack(c, consumeChannel, tag.value, multiple ? 1 : 0)
        case .nack(let multiple, let requeue): status = amqp_basic_nack(c, consumeChannel, tag.value, multiple ? 1 : 0, requeue ? 1 : 0)
        case .reject(let requeue): status = amqp_basic_reject(c, consumeChannel, tag.value, requeue ? 1 : 0)
        }
        if status != AMQP_STATUS_OK.rawValue {
            throw AMQPError(.connectionLost, "acknowledging a delivery failed: \(libraryErrorString(status))")
        }
        if !unsettled.isEmpty { forgetSettled(tag.value, multiple: how.multiple) }
    }

    private func forgetSettled(_ tag: UInt64, multiple: Bool) {
        if multiple {
            for (t, bytes) in unsettled where t <= tag {
                unsettled[t] = nil
                unsettledBytes -= bytes
            }
        } else if let bytes = unsettled.removeValue(forKey: tag) {
            unsettledBytes -= bytes
        }
        // One of the largest settled: find them again (at most `prefetch` entries).
        if largestUnsettled.contains(where: { unsettled[$0.tag] == nil }) {
            largestUnsettled = unsettled.sorted { $0.value > $1.value }.prefix(uncountedLargest).map { ($0.key, $0.value) }
        }
    }

    private func runAdmin(_ op: AdminOperation) throws(AMQPError) -> AdminResult {
        guard let c = conn else { throw AMQPError(.connectionLost, "not connected to a broker") }
        if !adminChannelOpen {
            try openChannel(adminChannel)
            adminChannelOpen = true
        }
        let arena = CArena()
        switch op {
        case .inspectQueue(let name):
            let ok = amqp_queue_declare(c, adminChannel, arena.bytes(name), 1, 0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
            try check(amqp_get_rpc_reply(c), "inspecting queue '\(name)'", channel: adminChannel)
            return .queue(messages: ok?.pointee.message_count ?? 0, consumers: ok?.pointee.consumer_count ?? 0)
        case .purgeQueue(let name):
            let ok = amqp_queue_purge(c, adminChannel, arena.bytes(name))
            try check(amqp_get_rpc_reply(c), "purging queue '\(name)'", channel: adminChannel)
            return .purged(messages: ok?.pointee.message_count ?? 0)
        case .deleteQueue(let name):
            let ok = amqp_queue_delete(c, adminChannel, arena.bytes(name), 0, 0)
            try check(amqp_get_rpc_reply(c), "deleting queue '\(name)'", channel: adminChannel)
            return .deleted(messages: ok?.pointee.message_count ?? 0)
        case .get(let name):
            let reply = amqp_basic_get(c, adminChannel, arena.bytes(name), 1)
            try check(reply, "reading from queue '\(name)'", channel: adminChannel)
            guard reply.reply.id == 0x003C_0047 else { return .message(nil) }  // basic.get-ok, else get-empty
            let g = reply.reply.decoded!.assumingMemoryBound(to: amqp_basic_get_ok_t.self).pointee
            let tag = g.delivery_tag, redelivered = g.redelivered != 0, exchange = g.exchange.string, key = g.routing_key.string
            var message = amqp_message_t()
            let r = amqp_read_message(c, adminChannel, &message, 0)
            guard r.reply_type == AMQP_RESPONSE_NORMAL else { throw AMQPError(.connectionLost, "reading a message from '\(name)' failed") }
            defer { amqp_destroy_message(&message) }
            return .message(Delivery(
                body: message.body.data, properties: CDecode.properties(message.properties), exchange: exchange,
                routingKey: key, redelivered: redelivered, consumerTag: "", queue: name,
                tag: DeliveryTag(channelGeneration: 0, value: tag)))
        }
    }

    // MARK: Publishing and confirms

    private func flushPublishes() throws(AMQPError) {
        guard let c = conn, machine.blockedReason == nil else { return }
        let fd = amqp_get_sockfd(c)
        while queuedHead < queued.count, inFlight.count < maxInFlight {
            let p = queued[queuedHead]
            queuedHead += 1
            if p.deadline <= ContinuousClock.now {
                p.finish(.failure(AMQPError(.timeout, "message was not sent within \(config.publishTimeout) (no usable broker connection)")))
                continue
            }
            if p.message.body.count > config.frameMax * 1024 {
                p.finish(.failure(AMQPError(.invalidArgument, "message body of \(p.message.body.count) bytes is too large")))
                continue
            }
            let arena = CArena()
            var props = arena.properties(p.message.properties)
            let exchange = p.message.exchange.isEmpty ? CRabbitMQShims_empty_bytes() : arena.bytes(p.message.exchange)
            let key = arena.bytes(p.message.routingKey)
            let status = p.message.body.withUnsafeBytes { raw -> Int32 in
                let body = amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress))
                client.watchdog.enter(fd: fd)
                defer { client.watchdog.leave() }
                return amqp_basic_publish(c, publishChannel, exchange, key, p.message.mandatory ? 1 : 0, 0, &props, body)
            }
            if status != AMQP_STATUS_OK.rawValue {
                queuedHead -= 1  // not sent: keep it for the next connection
                throw AMQPError(.connectionLost, "publishing failed: \(libraryErrorString(status))")
            }
            inFlight[nextSeq] = p
            inFlightOrder.append(nextSeq)
            nextSeq += 1
        }
        compactQueued()
    }

    private func compactQueued() {
        if queuedHead > 0, queuedHead >= queued.count / 2 {
            queued.removeFirst(queuedHead)
            queuedHead = 0
        }
    }

    private func confirm(upTo tag: UInt64, multiple: Bool, nacked: Bool) {
        func complete(_ p: PendingPublish) {
            if nacked {
                p.finish(.failure(AMQPError(.nacked, "broker could not take responsibility for message \(p.message.properties.messageID ?? "(no id)") (basic.nack); send it again")))
            } else if let returned = p.returned {
                p.finish(.failure(returned))
            } else {
                p.finish(.success(()))
            }
        }
        if multiple {
            while inFlightHead < inFlightOrder.count, inFlightOrder[inFlightHead] <= tag {
                if let p = inFlight.removeValue(forKey: inFlightOrder[inFlightHead]) { complete(p) }
                inFlightHead += 1
            }
        } else if let p = inFlight.removeValue(forKey: tag) {
            complete(p)
        }
        while inFlightHead < inFlightOrder.count, inFlight[inFlightOrder[inFlightHead]] == nil { inFlightHead += 1 }
        if inFlightHead > 1024, inFlightHead >= inFlightOrder.count / 2 {
            inFlightOrder.removeFirst(inFlightHead)
            inFlightHead = 0
        }
    }

    /// basic.return carries no delivery tag; it precedes the ack of the same message, so the
    /// earliest unconfirmed publish with the same exchange, routing key and message id is it.
    private func markReturned(exchange: String, routingKey: String, messageID: String?, code: UInt16, text: String) {
        for i in inFlightHead..<inFlightOrder.count {
            guard let p = inFlight[inFlightOrder[i]], p.returned == nil else { continue }
            let m = p.message
            if m.exchange == exchange, m.routingKey == routingKey, m.properties.messageID == messageID {
                p.returned = AMQPError(.unroutable, "no queue is bound to exchange '\(exchange)' for routing key '\(routingKey)': the broker returned message \(messageID ?? "(no id)") (\(text))", replyCode: code)
                return
            }
        }
        logger.warning("broker returned a message that matches no publish in flight", metadata: ["amqp.exchange": "\(exchange)", "amqp.routing_key": "\(routingKey)"])
    }

    private func expireDeadlines() {
        let now = ContinuousClock.now
        // Queued publishes are appended in call order and all get the same bound, so the
        // oldest expires first: only when it has expired is the queue filtered.
        if queuedHead < queued.count, queued[queuedHead].deadline <= now {
            var kept: [PendingPublish] = []
            for i in queuedHead..<queued.count {
                let p = queued[i]
                if p.deadline <= now {
                    if let reason = machine.blockedReason {
                        p.finish(.failure(AMQPError(.blocked, "broker has blocked publishing for longer than \(config.publishTimeout) (\(reason)); message not sent")))
                    } else {
                        p.finish(.failure(AMQPError(.timeout, "message was not sent within \(config.publishTimeout) (no usable broker connection)")))
                    }
                } else {
                    kept.append(p)
                }
            }
            queued = kept
            queuedHead = 0
        }
        if inFlightHead < inFlightOrder.count, let first = inFlight[inFlightOrder[inFlightHead]], first.deadline <= now {
            for seq in inFlightOrder[inFlightHead...] {
                guard let p = inFlight[seq], p.deadline <= now else { continue }
                inFlight[seq] = nil
                if let reason = machine.blockedReason {
                    p.finish(.failure(AMQPError(.blocked, "broker has blocked publishing for longer than \(config.publishTimeout) (\(reason)); message \(p.message.properties.messageID ?? "(no id)") was not confirmed: send it again")))
                } else {
                    p.finish(.failure(AMQPError(.timeout, "broker did not confirm message \(p.message.properties.messageID ?? "(no id)") within \(config.publishTimeout); send it again")))
                }
            }
        }
    }

    private func failAllInFlight(_ error: AMQPError) {
        for seq in inFlightOrder[inFlightHead...] {
            if let p = inFlight.removeValue(forKey: seq) { p.finish(.failure(error)) }
        }
        inFlight.removeAll()
        inFlightOrder.removeAll()
        inFlightHead = 0
    }

    // MARK: Disconnected

    /// Waits out the backoff while still taking commands. Returns false if close was requested.
    private func waitBeforeReconnect(_ delay: Duration) -> Bool {
        let until = ContinuousClock.now + delay
        while true {
            for command in client.takeCommands() {
                switch command {
                case .publish(let p): queued.append(p)
                case .settle:
                    staleSettles += 1
                    client.emit(.staleAcksDropped(count: staleSettles))
                case .subscribe(let consumer): consumers.append(consumer)
                case .stopConsuming(let cont):
                    for consumer in consumers { consumer.continuation.finish() }
                    consumers.removeAll()
                    cont.resume()
                case .admin(_, let cont):
                    cont.resume(throwing: lastConnectError ?? AMQPError(.connectionLost, "not connected to a broker"))
                case .close(let cont):
                    closeWaiters.append(cont)
                    return false
                }
            }
            expireDeadlines()
            tick()
            let now = ContinuousClock.now
            if now >= until { return true }
            let ms = min(100, max(1, Int32(clamping: Int64((until - now).seconds * 1000) + 1)))
            var fds = [pollfd(fd: client.wake.readFD, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 1, nextPollTimeout(idle: ms))
            if fds[0].revents != 0 { client.wake.drain() }
        }
    }

    private func dropConnection() {
        resetUnsettled()
        if let c = conn {
            amqp_destroy_connection(c)
            conn = nil
        }
    }

    private func shutDown() {
        for command in client.takeCommands() {
            switch command {
            case .publish(let p): queued.append(p)
            case .settle: break
            case .subscribe(let consumer): consumers.append(consumer)
            case .stopConsuming(let cont): cont.resume()
            case .admin(_, let cont): cont.resume(throwing: AMQPError(.closed, "client is closing"))
            case .close(let cont): closeWaiters.append(cont)
            }
        }
        let closed = AMQPError(.closed, "client closed before the message was confirmed")
        failAllInFlight(closed)
        for p in queued[queuedHead...] { p.finish(.failure(AMQPError(.closed, "client closed; message not sent"))) }
        queued.removeAll()
        for consumer in consumers { consumer.continuation.finish() }
        consumers.removeAll()
        if let c = conn {
            _ = amqp_connection_close(c, 200)
            amqp_destroy_connection(c)
            conn = nil
        }
        client.shared.withLock { $0.connectedEndpoint = nil; $0.closed = true; $0.consumingQueues = [] }
        client.ioTick.store(0, ordering: .relaxed)
        client.emit(.disconnected(reason: "closed"))
        client.eventSink.finish()
        for w in closeWaiters { w.resume() }
        closeWaiters.removeAll()
    }
}
