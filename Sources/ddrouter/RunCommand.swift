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
        let client = AMQPClient(configuration: settings.amqp, topology: settings.topology, logger: logger)
        let service: Service
        do {
            service = try Service(settings: settings, storeSettings: storeSettings, client: client, logger: logger,
                                  workflow: settings.workflow, userForSender: settings.directory.brokerUser(for:))
        } catch {
            logger.critical("store cannot be opened", metadata: ["store.path": "\(storeSettings.path)", "error": "\(error)"])
            throw ExitCode(73)  // EX_CANTCREAT
        }
        // systemd (Type=notify): READY=1 only once the broker connection is up (topology
        // declared) and the pipeline consumes; STATUS= from the monitor (state and counts);
        // WATCHDOG=1 at half of WatchdogSec while the process lives; STOPPING=1 on shutdown.
        // STATUS= never carries personal data.
        let notifier = SystemdNotifier(environment: environment)
        let health = DaemonHealth(client: client)
        let monitor = DaemonMonitor(
            client: client, store: service.store, health: health, names: settings.names, logger: logger,
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
        client.start()
        service.start()
        monitor.start()
        logger.info("ddrouter started", metadata: [
            "amqp.endpoints": "\(settings.amqp.endpoints.map(\.description).joined(separator: ","))",
            "amqp.vhost": "\(settings.amqp.vhost)", "ddrouter.version": "\(BuildInfo.version)",
        ])
        let readiness = Task {
            while !Task.isCancelled {
                if client.isConnected && Observe.isConsuming {
                    notifier.ready(status: "consuming ddrouter.inbound")
                    logger.info("ready: connected and consuming")
                    await monitor.sample()  // gauges and STATUS= at once, not at the next interval
                    return
                }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        let watchdog = Task {
            guard let interval = notifier.watchdogInterval else { return }
            while !Task.isCancelled {
                notifier.watchdog()
                try? await Task.sleep(for: interval)
            }
        }
        let signal = await Signals.wait(for: [SIGTERM, SIGINT])
        health.markStopping()
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        notifier.stopping(status: "stopping on signal \(signal)")
        readiness.cancel()
        await monitor.stop()
        await service.shutdown(client: client, flushTimeout: .seconds(flushSeconds))
        await client.close()
        await http?.stop()
        watchdog.cancel()
        logger.info("stopped")
    }
}

enum Signals {
    /// Suspends until one of `signals` arrives; returns its number. The signals are ignored
    /// for the default action, so a second one does not kill the process mid-shutdown.
    static func wait(for signals: [Int32]) async -> Int32 {
        let box = Box()
        return await withCheckedContinuation { (cont: CheckedContinuation<Int32, Never>) in
            box.queue.sync {
                box.continuation = cont
                for s in signals {
                    Foundation.signal(s, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: s, queue: box.queue)
                    source.setEventHandler { box.fire(s) }
                    source.resume()
                    box.sources.append(source)
                }
            }
        }
    }

    // @unchecked Sendable: every field is read and written only on `queue`.
    final class Box: @unchecked Sendable {
        let queue = DispatchQueue(label: "ddrouter.signals")
        var continuation: CheckedContinuation<Int32, Never>?
        var sources: [any DispatchSourceSignal] = []
        func fire(_ signal: Int32) {
            continuation?.resume(returning: signal)
            continuation = nil
        }
    }
}
