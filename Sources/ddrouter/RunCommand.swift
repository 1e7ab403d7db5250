import AMQP
import ArgumentParser
import Daemon
import Dispatch
import Foundation
import Logging
import Metrics

/// `ddrouter run`: opens the store, connects to the broker, declares the topology, then runs
/// the pipeline (consume `ddrouter.inbound` → decide → record → ack) and the outbox relay
/// (publish with confirms → mark sent) until SIGTERM or SIGINT. On the signal it stops
/// consuming, finishes the message in hand, lets the relay flush the outbox (bounded by
/// `--flush-seconds`), then closes the connection and the store. The timer runner fires due
/// case timers meanwhile.
///
/// Watching it: JSON log lines on standard output, `/metrics`, `/livez` and `/readyz` on
/// `http.bind` (127.0.0.1:9464), and the systemd notify protocol (READY, STATUS, WATCHDOG,
/// STOPPING). See docs/operations.md.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the daemon: connect to RabbitMQ, declare the topology, serve.")

    @Option(name: .long, help: "Configuration file (YAML); DDROUTER_* variables override its keys.")
    var config: String = "/etc/ddrouter/ddrouter.yaml"

    @Option(name: .long, help: "On shutdown, how long the outbox relay may keep publishing (seconds).")
    var flushSeconds: Int = 10

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        // Before the daemon allocates much: see MallocSettings (docs/performance.md, 4).
        let mallocNotSet = MallocSettings.forDaemon(environment: environment).apply()
        // Logging and metrics first: the log format and level come from the same file.
        var settingsProblem: (any Error)?
        let observability: ObservabilitySettings
        do {
            observability = try await ObservabilitySettings.load(path: config, environment: environment)
        } catch {
            observability = ObservabilitySettings()
            settingsProblem = error
        }
        LoggingSystem.bootstrap { label in
            DaemonLogHandler(
                label: label, format: observability.logFormat, level: observability.logLevel)
        }
        let metrics = DaemonMetricsFactory()
        MetricsSystem.bootstrap(metrics)
        let logger = Logger(label: "ddrouter")
        if let settingsProblem {
            logger.critical("configuration rejected", metadata: ["config.path": "\(config)", "error": "\(settingsProblem)"])
            throw ExitCode(78)  // EX_CONFIG
        }
        if !mallocNotSet.isEmpty {
            logger.warning("glibc refused malloc settings; memory use may be higher than documented", metadata: [
                "malloc.refused": "\(mallocNotSet.joined(separator: ","))",
            ])
        }
        Gauge(label: DaemonMetric.buildInfo.name, dimensions: [("version", BuildInfo.version)]).record(1)
        Gauge(label: DaemonMetric.startTime.name).record(Date().timeIntervalSince1970)

        let settings: DaemonSettings
        do {
            settings = try await DaemonSettings.load(path: config, environment: environment)
        } catch {
            logger.critical("configuration rejected", metadata: ["config.path": "\(config)", "error": "\(error)"])
            throw ExitCode(78)  // EX_CONFIG
        }
        let storeSettings: StoreSettings
        do {
            storeSettings = try await StoreSettings.load(path: config, environment: environment)
        } catch {
            logger.critical("store configuration rejected", metadata: ["config.path": "\(config)", "error": "\(error)"])
            throw ExitCode(78)  // EX_CONFIG
        }
        if storeSettings.usesDevelopmentKey {
            logger.warning("running with store.dev_key, a development-only key: set store.key_file in production")
        }
        // One process per store: a second daemon (or `ddrouter timers run`) is refused.
        let storeLock: StoreLock
        do {
            storeLock = try StoreLock(store: storeSettings.path)
        } catch {
            logger.critical("store in use", metadata: ["store.path": "\(storeSettings.path)", "error": "\(error)"])
            throw ExitCode(75)  // EX_TEMPFAIL
        }
        // Two connections, as RabbitMQ advises: one consumes (and pauses reading while big
        // deliveries are held: consumerByteLimit), one publishes (a broker alarm blocks only
        // it, and queue-depth queries never read past deliveries held back).
        // A test clock moved forward from outside (the soak's timers): test installations only.
        var clock: @Sendable () -> Date = { Date() }
        if let path = environment[TestClock.variable], !path.isEmpty {
            guard storeSettings.usesDevelopmentKey,
                environment["CREDENTIALS_DIRECTORY"] == nil && !(environment["INVOCATION_ID"] != nil && getppid() == 1)
            else {
                logger.critical("\(TestClock.variable) is for test installations only (store.dev_key, not under systemd)")
                throw ExitCode(78)  // EX_CONFIG
            }
            let testClock = TestClock(path: path)
            clock = { testClock.now() }
            logger.warning("running on a test clock: wall clock plus the offset in the file", metadata: [
                "clock.file": "\(path)", "clock.offset_seconds": "\(testClock.offset)",
            ])
        }
        let client = AMQPClient(configuration: settings.amqp, topology: settings.topology, logger: logger)
        let publisher = AMQPClient(configuration: settings.publishingAMQP, topology: settings.topology, logger: logger)
        let notifier = SystemdNotifier(environment: environment)
        StoreUpgradeNotice.announce(storePath: storeSettings.path, notifier: notifier, logger: logger)
        let service: Service
        do {
            service = try Service(settings: settings, storeSettings: storeSettings, client: client, publisher: publisher,
                                  logger: logger,
                                  workflow: settings.workflow, clock: clock,
                                  userForSender: settings.directory.brokerUser(for:))
        } catch {
            logger.critical("store cannot be opened", metadata: ["store.path": "\(storeSettings.path)", "error": "\(error)"])
            throw ExitCode(73)  // EX_CANTCREAT
        }
        // A key that is not the store's own (a key file replaced without rotate-key) would
        // open second cases for known citizens and break the audit chain: refused before
        // anything is consumed. 78: systemd does not restart it (RestartPreventExitStatus=).
        do {
            if case .mismatch(let caseID) = try StoreKeyCheck.check(store: service.store, masterKey: storeSettings.masterKey) {
                logger.critical("\(StoreKeyCheck.mismatchMessage)", metadata: [
                    "store.path": "\(storeSettings.path)", "case.id": "\(caseID)",
                ])
                throw ExitCode(78)  // EX_CONFIG
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            logger.critical("store cannot be read", metadata: ["store.path": "\(storeSettings.path)", "error": "\(error)"])
            throw ExitCode(74)  // EX_IOERR
        }
        // systemd (Type=notify): READY=1 only once the broker connection is up (topology
        // declared) and the pipeline consumes; STATUS= from the monitor (state and counts);
        // WATCHDOG=1 at half of WatchdogSec while the process lives; STOPPING=1 on shutdown.
        // STATUS= never carries personal data. (The notifier was made before the store was
        // opened: a schema upgrade asks systemd for more start time, StoreUpgradeNotice.)
        let brokerClients = [client, publisher]
        let health = DaemonHealth(clients: brokerClients)
        let monitor = DaemonMonitor(
            client: client, publisher: publisher, store: service.store, health: health, names: settings.names, logger: logger,
            interval: observability.sampleInterval, status: { notifier.status($0) })
        var http: HTTPEndpoint?
        if let host = observability.bindHost {
            do {
                let endpoint = try await HTTPEndpoint.start(
                    host: host, port: observability.bindPort, health: health,
                    metrics: {
                        // Readiness as /readyz would answer now, not as of the last sample.
                        Gauge(label: DaemonMetric.ready.name).record(health.readiness().ready ? 1 : 0)
                        return metrics.render()
                    },
                    logger: logger)
                http = endpoint
                logger.info("serving /metrics, /livez, /readyz", metadata: [
                    "http.host": "\(host)", "http.port": "\(endpoint.port)",
                ])
            } catch {
                // Routing matters more than being watched: run on without the endpoints; the
                // scrape fails (the DDRouterDown alert), and this line says why.
                logger.error("HTTP endpoints cannot start; running without /metrics, /livez, /readyz", metadata: [
                    "http.host": "\(host)", "http.port": "\(observability.bindPort)", "error": "\(error)",
                ])
            }
        }
        // From here on SIGTERM/SIGINT stop gracefully (a second one at once: Signals.swift).
        let (stopRequests, stopRequest) = AsyncStream.makeStream(of: StopReason.self)
        let signals = Signals.handle([SIGTERM, SIGINT]) { stopRequest.yield(.signal($0)) }
        client.start()
        publisher.start()
        service.start()
        monitor.start()
        let trimmer = observability.trimInterval.map(MemoryTrimmer.init(interval:))
        trimmer?.start()
        logger.info("ddrouter started", metadata: [
            "amqp.endpoints": "\(settings.amqp.endpoints.map(\.description).joined(separator: ","))",
            "amqp.vhost": "\(settings.amqp.vhost)", "ddrouter.version": "\(BuildInfo.version)",
        ])
        let readiness = Task {
            while !Task.isCancelled {
                // Connected, topology declared, and the broker has accepted the consumer.
                if brokerClients.allSatisfy(\.isConnected) && client.isConsuming(queue: settings.names.inboundQueue)
                    && Observe.isConsuming {
                    notifier.ready(status: "consuming ddrouter.inbound")
                    logger.info("ready: connected and consuming")
                    await monitor.sample()  // gauges and STATUS= at once, not at the next interval
                    return
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        // WATCHDOG=1 only while the AMQP I/O thread and the pipeline are alive (WatchdogGate).
        let pipeline = service.pipeline
        let watchdog = Task {
            guard let interval = notifier.watchdogInterval else { return }
            let gate = WatchdogGate(pingInterval: interval)
            var withheld = false
            while !Task.isCancelled {
                let silence = brokerClients.compactMap(\.ioLoopSilence).max()
                if let problem = gate.problem(ioLoopSilence: silence, pipelineBusy: pipeline.busyFor) {
                    if !withheld { logger.error("watchdog ping withheld: systemd restarts the service if this lasts", metadata: ["problem": "\(problem)"]) }
                    withheld = true
                } else {
                    if withheld { logger.info("watchdog pings again") }
                    withheld = false
                    notifier.watchdog()
                }
                try? await Task.sleep(for: interval)
            }
        }
        let failureWatch = Task {
            for await reason in service.failures { stopRequest.yield(.failure(reason)) }
        }
        var reason = StopReason.signal(0)
        for await r in stopRequests {
            reason = r
            break
        }
        failureWatch.cancel()
        health.markStopping()
        // No delivery is taken from here on; those in hand finish (their transaction commits).
        service.pipeline.stop()
        let inHand = service.pipeline.deliveriesInHand
        switch reason {
        case .signal(let signal):
            logger.info("stopping", metadata: ["signal": "\(signal)", "pipeline.in_hand": "\(inHand)"])
            notifier.stopping(status: "stopping on signal \(signal)")
        case .failure(let why):
            logger.critical("stopping: the service failed", metadata: ["error": "\(why)"])
            notifier.stopping(status: "stopping: consuming ended with an error, see the log")
        }
        readiness.cancel()
        await monitor.stop()
        trimmer?.stop()
        await service.shutdown(client: client, flushTimeout: .seconds(flushSeconds))
        await client.close()
        await publisher.close()
        await http?.stop()
        watchdog.cancel()
        withExtendedLifetime(signals) {}
        withExtendedLifetime(storeLock) {}  // released only now: the store is closed
        if case .failure = reason {
            logger.info("stopped after a failure; exit 69 so that systemd restarts the service")
            throw ExitCode(69)  // EX_UNAVAILABLE: not in RestartPreventExitStatus
        }
        logger.info("stopped")
    }
}

/// Why `ddrouter run` stops: a signal (exit 0 after the graceful stop) or a part of the
/// service that ended for good (exit 69 after the same stop, so systemd restarts it).
enum StopReason: Sendable {
    case signal(Int32)
    case failure(String)
}
