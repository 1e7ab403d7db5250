import AMQP
import Foundation

// ddbench: the benchmark of docs/performance.md. Run through scripts/bench.sh (`make bench`),
// which starts a broker, creates the sender users, builds, and calls
//   ddbench all [--quick] --ddrouter PATH --relay PATH [--work DIR] [--out FILE] [--repeats N]
//            [--only baseline,list,referral,latency,big,fair]
// The broker comes from DDR_AMQP_HOST/PORT/VHOST/USER/PASSWORD.

struct Options {
    var quick = false
    var ddrouter = ".build/release/ddrouter"
    var relay = ".build/bench/relay"
    var work = FileManager.default.temporaryDirectory.appendingPathComponent("ddbench-\(getpid())")
    var out: String?
    var repeats: Int?
    var only: Set<String> = ["baseline", "list", "referral", "latency", "big", "fair"]
    var journalBatch = 500
    var queueTypes = ["quorum", "classic"]
    /// Leave the work directory (the runs' stores) for a look afterwards.
    var keepWork = false
}

func parse() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()
    guard args.first == "all" else {
        FileHandle.standardError.write(Data("usage: ddbench all [--quick] --ddrouter PATH --relay PATH [--work DIR] [--out FILE] [--repeats N] [--only LIST] [--journal-batch N] [--queue-types quorum,classic] [--keep-work]\n".utf8))
        exit(2)
    }
    args = args.dropFirst()
    while let a = args.popFirst() {
        func value() -> String {
            guard let v = args.popFirst() else { FileHandle.standardError.write(Data("\(a) needs a value\n".utf8)); exit(2) }
            return v
        }
        switch a {
        case "--quick": o.quick = true
        case "--ddrouter": o.ddrouter = value()
        case "--relay": o.relay = value()
        case "--work": o.work = URL(fileURLWithPath: value())
        case "--out": o.out = value()
        case "--repeats": o.repeats = Int(value())
        case "--only": o.only = Set(value().split(separator: ",").map(String.init))
        case "--journal-batch": o.journalBatch = Int(value()) ?? 500
        case "--queue-types": o.queueTypes = value().split(separator: ",").map(String.init)
        case "--keep-work": o.keepWork = true
        default: FileHandle.standardError.write(Data("unknown option \(a)\n".utf8)); exit(2)
        }
    }
    return o
}

struct Stat {
    var values: [Double]
    var median: Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
    var min: Double { values.min() ?? .nan }
    var max: Double { values.max() ?? .nan }
    func percentile(_ p: Double) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return .nan }
        return s[Swift.min(s.count - 1, Int((p * Double(s.count)).rounded(.up)) - 1)]
    }
}

func f(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }
func spread(_ s: Stat, _ d: Int = 0) -> String { "\(f(s.median, d)) (\(f(s.min, d))–\(f(s.max, d)))" }

func log(_ s: String) {
    FileHandle.standardError.write(Data("[ddbench \(Date().formatted(date: .omitted, time: .standard))] \(s)\n".utf8))
}

@main
struct Main {
    static func main() async {
        if CommandLine.arguments.dropFirst().first == "soak" {
            exit(await Soak.main(Array(CommandLine.arguments.dropFirst(2))))
        }
        let o = parse()
        let settings = BenchSettings.fromEnvironment()
        let env = Environment(settings: settings, ddrouter: o.ddrouter, relay: o.relay, work: o.work)
        do {
            try FileManager.default.createDirectory(at: o.work, withIntermediateDirectories: true)
            let table = try await runAll(env, o)
            await cleanUp(env)
            print(table)
            if let out = o.out { try table.write(toFile: out, atomically: true, encoding: .utf8) }
            if o.keepWork {
                log("work directory kept: \(o.work.path)")
            } else {
                try? FileManager.default.removeItem(at: o.work)
            }
        } catch {
            log("FAILED: \(error) (work directory kept: \(o.work.path))")
            exit(1)
        }
    }

    /// Leaves the broker as a daemon or `make test` expects it: the inbound queue (whose type
    /// the bench switched) and the relay's queues are deleted.
    static func cleanUp(_ env: Environment) async {
        let admin = AMQPClient(configuration: env.settings.amqp(name: "ddbench.cleanup"), logger: benchLogger)
        admin.start()
        guard (try? await admin.waitUntilConnected(timeout: .seconds(15))) != nil else {
            await admin.close()
            return
        }
        for queue in [Q.inbound, "bench.in.quorum", "bench.in.classic", "bench.out"] {
            _ = try? await admin.admin(.deleteQueue(queue))
        }
        await admin.close()
    }

    static func runAll(_ env: Environment, _ o: Options) async throws -> String {
        let repeats = o.repeats ?? (o.quick ? 2 : 5)
        let relayCount = o.quick ? 5_000 : 20_000
        let listEntries = o.quick ? 2_000 : 10_000
        let referralCount = o.quick ? 1_000 : 10_000
        let latencyCount = o.quick ? 100 : 1_000
        let bigEntries = o.quick ? 20_000 : 100_000
        // What the contract allows in one list message: 16 MiB body, 50,000 entries.
        let entryBytes = Citizens.listEntry(12_345).utf8.count + 1
        let maxBody = 16 * 1024 * 1024
        let chunk = min(50_000, (maxBody - 200) / entryBytes)
        log("one list entry is \(entryBytes) bytes: at most \(chunk) entries per message (16 MiB body limit, 50,000-entry schema limit)")
        /// How many messages a list of `entries` takes at `chunk` entries each.
        func messages(_ entries: Int) -> Int { (entries + chunk - 1) / chunk }
        var rows: [String] = []
        func row(_ cells: String...) { rows.append("| " + cells.joined(separator: " | ") + " |") }
        var baseline: [String: Double] = [:]

        if o.only.contains("baseline") {
            for q in o.queueTypes {
                var c: [Double] = [], s: [Double] = []
                for r in 0..<repeats {
                    c.append(try await Scenarios.cRelay(env, inType: q, count: relayCount, size: 1024))
                    s.append(try await Scenarios.swiftRelay(env, inType: q, count: relayCount, size: 1024))
                    log("relay \(q) #\(r + 1): C \(f(c.last!)) msg/s, Swift \(f(s.last!)) msg/s")
                }
                let cs = Stat(values: c), ss = Stat(values: s)
                baseline[q] = cs.median
                row("baseline relay, C/rabbitmq-c, \(q) in → classic out, \(relayCount) × 1 KiB", spread(cs) + " msg/s", "—", "practical limit")
                row("same relay on Sources/AMQP (Swift), \(q) in", spread(ss) + " msg/s", "\(f(100 * ss.median / cs.median))% of C", "—")
            }
        }
        func ratio(_ rate: Double, _ q: String) -> String {
            guard let b = baseline[q] else { return "(no baseline)" }
            return "\(f(100 * rate / b))% of baseline"
        }
        func verdict(_ ok: Bool) -> String { ok ? "met" : "**missed**" }

        if o.only.contains("list") {
            for q in o.queueTypes {
                var samples: [Sample] = []
                for r in 0..<repeats {
                    let s = try await Scenarios.list(env, queueType: q, entries: listEntries, chunk: chunk,
                                                     batch: o.journalBatch, run: "l\(q.prefix(1))\(r)")
                    log("list \(listEntries) \(q) #\(r + 1): \(f(s.wall, 2)) s, \(f(s.rate)) entries/s, daemon CPU \(f(s.cpuPerEntry, 2)) ms/entry, peak RSS \(f(s.peakRSS)) MiB; \(s.note)")
                    samples.append(s)
                }
                let rate = Stat(values: samples.map(\.rate))
                let b = baseline[q]
                row("list of \(listEntries) citizens, \(q) inbound: wall s", spread(Stat(values: samples.map(\.wall)), 2), "entries/s \(spread(rate)); \(ratio(rate.median, q))",
                    "≥ 60% of baseline: " + (b.map { verdict(rate.median >= 0.6 * $0) } ?? "n/a"))
                row("daemon CPU (user + system) per list entry, \(q)", spread(Stat(values: samples.map(\.cpuPerEntry)), 2) + " ms",
                    "at most \(f(1000 / Stat(values: samples.map(\.cpuPerEntry)).median)) entries/s per core", "—")
                row("idle RSS after READY (empty store), \(q)", spread(Stat(values: samples.map(\.idleRSS)), 1) + " MiB", "≤ 40 MiB", verdict(Stat(values: samples.map(\.idleRSS)).median <= 40))
                row("peak RSS during the \(listEntries)-entry list, \(q)", spread(Stat(values: samples.map(\.hwm)), 1) + " MiB (VmHWM)", "—", "—")
                row("store size per list citizen after the run (file + WAL), \(q)",
                    spread(Stat(values: samples.map { $0.storeBytesPerEntry / 1024 }), 2) + " KiB", "≤ 2 KB",
                    verdict(Stat(values: samples.map(\.storeBytesPerEntry)).median <= 2000))
            }
        }
        if o.only.contains("referral") {
            for q in o.queueTypes {
                var samples: [Sample] = []
                for r in 0..<repeats {
                    let s = try await Scenarios.referrals(env, queueType: q, count: referralCount, window: 200,
                                                          batch: o.journalBatch, run: "r\(q.prefix(1))\(r)")
                    log("referrals \(referralCount) \(q) #\(r + 1): \(f(s.wall, 2)) s, \(f(s.rate)) msg/s; \(s.note)")
                    samples.append(s)
                }
                let rate = Stat(values: samples.map(\.rate))
                row("\(referralCount) single referrals, \(q) inbound: wall s", spread(Stat(values: samples.map(\.wall)), 2),
                    "referrals/s \(spread(rate)); \(ratio(rate.median, q))", "—")
            }
        }
        if o.only.contains("latency") {
            for q in o.queueTypes {
                var p50: [Double] = [], p99: [Double] = []
                for r in 0..<repeats {
                    let s = try await Scenarios.latency(env, queueType: q, count: latencyCount, run: "t\(q.prefix(1))\(r)")
                    let st = Stat(values: s.latencies)
                    p50.append(st.percentile(0.5))
                    p99.append(st.percentile(0.99))
                    log("latency \(q) #\(r + 1): p50 \(f(p50.last!, 1)) ms, p99 \(f(p99.last!, 1)) ms, max \(f(st.max, 1)) ms")
                }
                row("single referral, one in flight, \(q): p50 ms", spread(Stat(values: p50), 1), "p99 \(spread(Stat(values: p99), 1)) ms",
                    "p99 ≤ 25 ms: " + verdict(Stat(values: p99).median <= 25))
            }
        }
        if o.only.contains("big") {
            let q = o.queueTypes.first ?? "quorum"
            let store = env.work.appendingPathComponent("big")
            let s = try await Scenarios.list(env, queueType: q, entries: bigEntries, chunk: chunk, batch: o.journalBatch,
                                             keepStore: store, run: "big")
            log("list \(bigEntries) \(q): \(f(s.wall, 2)) s, \(f(s.rate)) entries/s, daemon CPU \(f(s.cpuPerEntry, 2)) ms/entry, peak RSS \(f(s.peakRSS)) MiB, VmHWM \(f(s.hwm)) MiB; \(s.note)")
            row("list of \(bigEntries) citizens (\(messages(bigEntries)) messages of ≤ \(chunk)), \(q): peak RSS",
                "\(f(s.hwm, 1)) MiB (VmHWM)", "\(f(s.rate)) entries/s, \(f(s.wall, 1)) s", "≤ 150 MiB: " + verdict(s.hwm <= 150))
            // Issue 15's store target is stated for this list.
            row("store size per citizen after the \(bigEntries)-citizen list (file + WAL), \(q)",
                "\(f(s.storeBytesPerEntry / 1024, 2)) KiB", "—", "≤ 2 KB: " + verdict(s.storeBytesPerEntry <= 2000))
            var startups: [Double] = [], idles: [Double] = []
            for r in 0..<repeats {
                let st = try await Scenarios.startup(env, queueType: q, store: store, run: "s\(r)")
                startups.append(st.startup)
                idles.append(st.idleRSS)
                log("startup with \(bigEntries) cases #\(r + 1): \(f(st.startup, 3)) s to READY=1, RSS \(f(st.idleRSS, 1)) MiB")
            }
            row("startup to READY=1, store of \(bigEntries) cases", spread(Stat(values: startups), 3) + " s", "—",
                "≤ 1 s: " + verdict(Stat(values: startups).median <= 1))
            row("idle RSS after READY, store of \(bigEntries) cases", spread(Stat(values: idles), 1) + " MiB", "≤ 40 MiB",
                verdict(Stat(values: idles).median <= 40))
        }
        if o.only.contains("fair") {
            let q = o.queueTypes.first ?? "quorum"
            // 50,000 entries are over one message's body limit: the list goes as messages of at
            // most `chunk` entries, published together, as a municipality would send it.
            let entries = o.quick ? min(chunk, 20_000) : 50_000
            let s = try await Scenarios.fair(env, queueType: q, entries: entries, chunk: chunk, probes: 20, run: "f")
            let waits = Stat(values: s.latencies.isEmpty ? [0] : s.latencies)
            let what = messages(entries) == 1 ? "\(entries)-entry list" : "\(entries)-entry list (\(messages(entries)) messages of ≤ \(chunk))"
            log("fair: \(s.latencies.count) one-entry lists of 810 answered after p50 \(f(waits.percentile(0.5), 1)) ms, max \(f(waits.max, 1)) ms; the \(what) of 851 took \(f(s.wall, 2)) s; \(s.note)")
            row("another municipality's one-entry list, published while a \(what) is processed, \(q): answered within (p99 of \(s.latencies.count))",
                f(waits.percentile(0.99), 1) + " ms", "p50 \(f(waits.percentile(0.5), 1)) ms; the big list took \(f(s.wall, 1)) s",
                "≤ 2 s: " + verdict(!s.latencies.isEmpty && waits.percentile(0.99) <= 2000))
        }
        var header = "| measurement | median (min–max) of \(repeats) | also | target |\n|---|---|---|---|\n"
        header += rows.joined(separator: "\n")
        return header
    }
}
