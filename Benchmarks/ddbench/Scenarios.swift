import AMQP
import Foundation
import Synchronization

/// One measured run of a scenario.
struct Sample {
    var wall: Double = 0          // s
    var rate: Double = 0          // entries (or messages) per second
    var peakRSS: Double = 0       // MiB, sampled VmRSS
    var hwm: Double = 0           // MiB, VmHWM at the end
    var idleRSS: Double = 0       // MiB, 1 s after READY
    var startup: Double = 0       // s, spawn → READY=1
    var cpuPerEntry: Double = 0   // ms of the daemon's CPU (user + system) per entry, publish → done
    var latencies: [Double] = []  // ms
    var storeBytesPerEntry: Double = 0  // store file (+ WAL) after the run, per entry
    var note = ""
}

struct Environment: Sendable {
    var settings: BenchSettings
    var ddrouter: String
    var relay: String
    var work: URL
}

enum Scenarios {
    // MARK: - baseline

    /// The C relay (a subprocess) over `count` messages of `size` bytes: msgs/s.
    static func cRelay(_ env: Environment, inType: String, count: Int, size: Int) async throws -> Double {
        _ = try await runTool(env, env.relay, ["declare", "bench.in.\(inType)", inType])
        _ = try await runTool(env, env.relay, ["declare", "bench.out", "classic"])
        _ = try await runTool(env, env.relay, ["fill", "bench.in.\(inType)", "\(count)", "\(size)"])
        let out = try await runTool(env, env.relay, ["relay", "bench.in.\(inType)", "bench.out", "\(count)", "\(env.settings.prefetch)"])
        return try rate(out)
    }

    /// The same relay on the project's AMQPClient: consume, publish with confirm (many in
    /// flight), ack after the confirm.
    static func swiftRelay(_ env: Environment, inType: String, count: Int, size: Int) async throws -> Double {
        _ = try await runTool(env, env.relay, ["declare", "bench.in.\(inType)", inType])
        _ = try await runTool(env, env.relay, ["declare", "bench.out", "classic"])
        _ = try await runTool(env, env.relay, ["fill", "bench.in.\(inType)", "\(count)", "\(size)"])
        let client = AMQPClient(configuration: env.settings.amqp(name: "ddbench.relay"), logger: benchLogger)
        client.start()
        try await client.waitUntilConnected(timeout: .seconds(15))
        let done = Counter()
        var started: ContinuousClock.Instant?
        try await withThrowingDiscardingTaskGroup { group in
            var n = 0
            for try await d in client.consume(queue: "bench.in.\(inType)", prefetch: UInt16(env.settings.prefetch)) {
                if n == 0 { started = now() }
                n += 1
                group.addTask {
                    try await client.publish(OutboundMessage(
                        exchange: "", routingKey: "bench.out", body: d.body,
                        properties: MessageProperties(contentType: "application/octet-stream", persistent: true),
                        mandatory: false))
                    client.ack(d.tag)
                    done.add()
                }
                if n == count { break }
            }
        }
        let elapsed = (now() - (started ?? now())).s
        await client.stopConsuming()
        await client.close()
        return Double(done.value) / elapsed
    }

    static func rate(_ output: String) throws -> Double {
        guard let r = output.split(separator: ":").last?.split(separator: " ").first.flatMap({ Double($0) }) else {
            throw BenchError("cannot read a rate from: \(output)")
        }
        return r
    }

    static func runTool(_ env: Environment, _ path: String, _ args: [String]) async throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var e = ProcessInfo.processInfo.environment
        e["DDR_AMQP_HOST"] = env.settings.host
        e["DDR_AMQP_PORT"] = "\(env.settings.port)"
        e["DDR_AMQP_VHOST"] = env.settings.vhost
        e["DDR_AMQP_USER"] = env.settings.user
        e["DDR_AMQP_PASSWORD"] = env.settings.password
        p.environment = e
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = await onThread { () -> Data in
            let d = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return d
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0 else { throw BenchError("\(path) \(args.joined(separator: " ")) failed: \(text)") }
        return text
    }

    // MARK: - the daemon

    /// A daemon with a fresh (or given) store, the observer, the journal peer.
    struct Rig {
        var daemon: Daemon
        var observer: Observer
        var output: OutputConsumer
        var journal: JournalPeer
        var tasks: [Task<Void, Never>]
        var idleRSS: Double

        func close() async {
            for t in tasks { t.cancel() }
            await output.close()
            await journal.close()
            await daemon.stop()
        }
    }

    static func rig(_ env: Environment, queueType: String, answer: Bool, batch: Int, directory: URL,
                    run: String) async throws -> Rig {
        // The inbound queue's type cannot change in place: delete it when the type differs.
        let admin = AMQPClient(configuration: env.settings.amqp(name: "ddbench.admin"), logger: benchLogger)
        admin.start()
        try await admin.waitUntilConnected(timeout: .seconds(15))
        _ = try? await admin.admin(.deleteQueue(Q.inbound))
        await admin.close()

        let daemon = try await Daemon(binary: env.ddrouter, directory: directory, settings: env.settings,
                                      queueType: queueType)
        try await Task.sleep(for: .seconds(1))
        let idle = ProcStatus.rssMiB(daemon.pid) ?? 0
        let observer = Observer()
        let output = OutputConsumer(settings: env.settings, observer: observer)
        let journal = JournalPeer(settings: env.settings, observer: observer, answer: answer, batch: batch, run: run)
        var tasks: [Task<Void, Never>] = []
        do {
            let o = try await output.start()
            try await output.purgeAll()
            tasks += o
            tasks += try await journal.start()
        } catch {
            await daemon.stop()
            throw error
        }
        return Rig(daemon: daemon, observer: observer, output: output, journal: journal, tasks: tasks, idleRSS: idle)
    }

    /// Publisher for a municipality (851; its own broker user, as the daemon requires).
    static func municipality(_ env: Environment, code: String = "851") async throws -> AMQPClient {
        let c = AMQPClient(configuration: env.settings.amqp(name: "ddbench.municipality.\(code)", user: "municipality-\(code)"),
                           logger: benchLogger)
        c.start()
        try await c.waitUntilConnected(timeout: .seconds(15))
        return c
    }

    static func send(_ c: AMQPClient, type: String, id: String, body: Data, municipality: String = "851") async throws {
        try await c.publish(OutboundMessage(
            exchange: "dd.in.municipality.\(municipality)", routingKey: type, body: body,
            properties: MessageProperties(contentType: "application/json", messageID: id, type: type,
                                          userID: "municipality-\(municipality)")))
    }

    /// Waits until `done()` or no progress for `stall` seconds.
    static func wait(_ rig: Rig, stall: Double, until done: () -> Bool) async throws {
        var lastProgress = now()
        var lastSummary = ""
        while !done() {
            try await Task.sleep(for: .milliseconds(5))
            let s = rig.observer.summary()
            if s != lastSummary { lastSummary = s; lastProgress = now() }
            if (now() - lastProgress).s > stall {
                throw BenchError("stalled for \(stall) s; seen: \(s); journal sent \(rig.journal.sentMessages)")
            }
            if rig.observer.state.withLock({ $0.badReceipts }) > 0 {
                throw BenchError("a receipt was not ok: \(rig.observer.state.withLock { $0.firstBadReceipt ?? "" })")
            }
        }
    }

    /// A municipal list of `entries` citizens in messages of at most `chunk` entries,
    /// published at t0; done when every message's receipt, every routed event and every
    /// journal status's receipt has arrived.
    static func list(_ env: Environment, queueType: String, entries: Int, chunk: Int, batch: Int,
                     keepStore: URL? = nil, run: String) async throws -> Sample {
        let directory = keepStore ?? env.work.appendingPathComponent("list-\(run)")
        let rig = try await rig(env, queueType: queueType, answer: true, batch: batch, directory: directory, run: run)
        return try await closing(rig) {
            var sample = Sample(idleRSS: rig.idleRSS, startup: rig.daemon.startupSeconds)
            let sender = try await municipality(env)
            let bodies = Citizens.lists(entries, chunk: chunk)
            let expectedRouted = Citizens.expectedRouted(0..<entries, referral: false)
            let sampler = RSSSampler(pid: rig.daemon.pid)
            let cpu0 = ProcStatus.cpuSeconds(rig.daemon.pid) ?? 0
            let t0 = now()
            for (k, body) in bodies.enumerated() {
                try await send(sender, type: "municipal-list", id: "bench-list-\(run)-\(k)", body: body)
            }
            let o = rig.observer
            try await wait(rig, stall: 60) {
                o.count(Q.inbox851, "receipt") >= bodies.count
                    && o.total(type: "assessment-request") + o.total(type: "cv-referral") >= expectedRouted
                    && o.count(Q.journal, "receipt") >= rig.journal.sentMessages
                    && o.count(Q.journal, "contact-status-request") >= Citizens.expectedRouted(0..<entries, referral: false)
            }
            sample.wall = (o.last - t0).s
            sample.rate = Double(entries) / sample.wall
            sample.peakRSS = sampler.stop()
            sample.hwm = ProcStatus.hwmMiB(rig.daemon.pid) ?? 0
            sample.cpuPerEntry = 1000 * ((ProcStatus.cpuSeconds(rig.daemon.pid) ?? cpu0) - cpu0) / Double(entries)
            sample.note = "messages \(bodies.count), max body \(bodies.map(\.count).max() ?? 0) B, statuses \(rig.journal.sentMessages); \(o.summary())"
            await sender.close()
            return sample
        }.withStore(directory, entries: entries)
    }

    /// Fairness: a list of `entries` citizens of 851 (messages of at most `chunk` entries,
    /// published together), and while it is processed up to `probes` one-entry lists of
    /// municipality 810, one at a time, a second apart, the first 1 s after the big list: how
    /// long each probe's receipt takes (`latencies`), against the big list's wall time
    /// (`wall`: until its last message's receipt). The journal does not answer: only the lists
    /// are processed.
    static func fair(_ env: Environment, queueType: String, entries: Int, chunk: Int, probes: Int,
                     run: String) async throws -> Sample {
        let rig = try await rig(env, queueType: queueType, answer: false, batch: 500,
                                directory: env.work.appendingPathComponent("fair-\(run)"), run: run)
        return try await closing(rig) {
            var sample = Sample(idleRSS: rig.idleRSS, startup: rig.daemon.startupSeconds)
            let big = try await municipality(env)
            let small = try await municipality(env, code: "810")
            let o = rig.observer
            let t0 = now()
            let parts = Citizens.lists(entries, chunk: chunk)
            for (i, body) in parts.enumerated() {
                try await send(big, type: "municipal-list", id: "bench-fair-\(run)-big-\(i)", body: body)
            }
            var bigDone: ContinuousClock.Instant?
            for probe in 0..<probes {
                try await Task.sleep(for: .seconds(1))
                if o.count(Q.inbox851, "receipt") >= parts.count { break }
                let t1 = now()
                try await send(small, type: "municipal-list", id: "bench-fair-\(run)-probe-\(probe)",
                               body: Citizens.list((entries + probe)..<(entries + probe + 1), municipality: "810"),
                               municipality: "810")
                var answered: ContinuousClock.Instant?
                try await wait(rig, stall: 120) {
                    if bigDone == nil, o.count(Q.inbox851, "receipt") >= parts.count { bigDone = now() }
                    if answered == nil, o.count(Q.inbox810, "receipt") >= probe + 1 { answered = now() }
                    return answered != nil
                }
                let latency = (answered ?? now()) - t1
                sample.latencies.append(latency.ms)
                // Each probe on its own line (wall-clock time of the send), to set beside the
                // daemon's "message processed" line for sender municipality.810.
                log("fair probe \(probe): sent \(f(Date().timeIntervalSince1970 - latency.s, 3)), "
                    + "receipt after \(f(latency.ms, 1)) ms")
            }
            try await wait(rig, stall: 120) { o.count(Q.inbox851, "receipt") >= parts.count }
            sample.wall = ((bigDone ?? now()) - t0).s
            sample.note = "big list \(entries) entries in \(parts.count) message(s), \(sample.latencies.count) probes; \(o.summary())"
            await big.close()
            await small.close()
            return sample
        }
    }

    /// `count` single referrals, published with up to `window` in flight.
    static func referrals(_ env: Environment, queueType: String, count: Int, window: Int, batch: Int,
                          run: String) async throws -> Sample {
        let rig = try await rig(env, queueType: queueType, answer: true, batch: batch,
                                directory: env.work.appendingPathComponent("referral-\(run)"), run: run)
        return try await closing(rig) {
            var sample = Sample(idleRSS: rig.idleRSS, startup: rig.daemon.startupSeconds)
            let sender = try await municipality(env)
            let bodies = (0..<count).map(Citizens.referral)
            let sampler = RSSSampler(pid: rig.daemon.pid)
            let t0 = now()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (i, body) in bodies.enumerated() {
                    if i >= window { try await group.next() }
                    group.addTask { try await send(sender, type: "referral", id: "bench-ref-\(run)-\(i)", body: body) }
                }
                try await group.waitForAll()
            }
            let o = rig.observer
            try await wait(rig, stall: 60) {
                o.count(Q.inbox851, "receipt") >= count
                    && o.total(type: "assessment-request") + o.total(type: "cv-referral") >= count
                    && o.count(Q.journal, "receipt") >= rig.journal.sentMessages
            }
            sample.wall = (o.last - t0).s
            sample.rate = Double(count) / sample.wall
            sample.peakRSS = sampler.stop()
            sample.hwm = ProcStatus.hwmMiB(rig.daemon.pid) ?? 0
            sample.note = "statuses \(rig.journal.sentMessages); \(o.summary())"
            await sender.close()
            return sample
        }
    }

    /// Runs `body`, then closes `rig`, whether `body` returned or threw.
    static func closing<T>(_ rig: Rig, _ body: () async throws -> T) async throws -> T {
        let result: T
        do {
            result = try await body()
        } catch {
            await rig.close()
            throw error
        }
        await rig.close()
        return result
    }

    /// One referral at a time: publish → its receipt and its routed event (the journal
    /// request: the status is unknown) both received.
    static func latency(_ env: Environment, queueType: String, count: Int, run: String) async throws -> Sample {
        let rig = try await rig(env, queueType: queueType, answer: false, batch: 1,
                                directory: env.work.appendingPathComponent("latency-\(run)"), run: run)
        return try await closing(rig) {
            var sample = Sample(idleRSS: rig.idleRSS, startup: rig.daemon.startupSeconds)
            let sender = try await municipality(env)
            rig.observer.state.withLock { $0.trackCorrelation = true }
            let warmup = 20
            for i in 0..<(count + warmup) {
                let id = "bench-lat-\(run)-\(i)"
                let body = Citizens.referral(i)
                let t0 = now()
                try await send(sender, type: "referral", id: id, body: body)
                var arrivals: [ContinuousClock.Instant] = []
                let deadline = now() + .seconds(10)
                while arrivals.count < 2 {
                    arrivals = rig.observer.state.withLock { $0.byCorrelation[id] ?? [] }
                    if now() > deadline { throw BenchError("referral \(i): no receipt and request within 10 s") }
                    if arrivals.count < 2 { try await Task.sleep(for: .microseconds(200)) }
                }
                if i >= warmup { sample.latencies.append((arrivals.max()! - t0).ms) }
            }
            await sender.close()
            return sample
        }
    }

    /// Restarts the daemon on an existing store: spawn → READY=1, and RSS 1 s later.
    static func startup(_ env: Environment, queueType: String, store: URL, run: String) async throws -> Sample {
        let daemon = try await Daemon(binary: env.ddrouter, directory: store, settings: env.settings, queueType: queueType)
        try await Task.sleep(for: .seconds(1))
        let sample = Sample(idleRSS: ProcStatus.rssMiB(daemon.pid) ?? 0, startup: daemon.startupSeconds)
        await daemon.stop()
        return sample
    }
}

final class Counter: Sendable {
    private let count = Atomic<Int>(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

extension Sample {
    /// With the size of the store in `directory` (the daemon has stopped: its WAL is merged)
    /// per list entry, and the tables' share of it (SQLite's `dbstat`) in the note.
    func withStore(_ directory: URL, entries: Int) -> Sample {
        var sample = self
        let path = directory.appendingPathComponent("store/ddrouter.sqlite").path
        var bytes = 0
        for suffix in ["", "-wal"] {
            bytes += ((try? FileManager.default.attributesOfItem(atPath: path + suffix))?[.size] as? Int) ?? 0
        }
        sample.storeBytesPerEntry = Double(bytes) / Double(max(1, entries))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = [path, "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        if (try? p.run()) != nil {
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            let parts = out.split(separator: "\n").compactMap { line -> String? in
                let cells = line.split(separator: "|")
                guard cells.count == 2, let size = Double(cells[1]) else { return nil }
                return "\(cells[0]) \(Int((size / Double(max(1, entries))).rounded())) B"
            }
            if !parts.isEmpty { sample.note += "; store per entry: " + parts.joined(separator: ", ") }
        }
        return sample
    }
}
