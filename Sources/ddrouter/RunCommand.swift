import AMQP
import ArgumentParser
import Daemon
import Dispatch
import Foundation
import Logging

/// `ddrouter run`: opens the store, connects to the broker, declares the topology, then runs
/// the pipeline (consume `ddrouter.inbound` → decide → record → ack) and the outbox relay
/// (publish with confirms → mark sent) until SIGTERM or SIGINT. On the signal it stops
/// consuming, finishes the message in hand, lets the relay flush the outbox (bounded by
/// `--flush-seconds`), then closes the connection and the store. Timers are not run yet.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the daemon: connect to RabbitMQ, declare the topology, serve.")

    @Option(name: .long, help: "Configuration file (YAML); DDROUTER_* variables override its keys.")
    var config: String = "/etc/ddrouter/ddrouter.yaml"

    @Option(name: .long, help: "On shutdown, how long the outbox relay may keep publishing (seconds).")
    var flushSeconds: Int = 10

    func run() async throws {
        var logger = Logger(label: "ddrouter")
        logger.logLevel = .info
        let settings: DaemonSettings
        do {
            settings = try await DaemonSettings.load(path: config, environment: ProcessInfo.processInfo.environment)
        } catch {
            logger.critical("configuration rejected", metadata: ["config.path": "\(config)", "error": "\(error)"])
            throw ExitCode(78)  // EX_CONFIG
        }
        let storeSettings: StoreSettings
        do {
            storeSettings = try await StoreSettings.load(path: config, environment: ProcessInfo.processInfo.environment)
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
        // From here on SIGTERM/SIGINT stop gracefully (a second one at once: Signals.swift).
        let (stopRequests, stopRequest) = AsyncStream.makeStream(of: StopReason.self)
        let signals = Signals.handle([SIGTERM, SIGINT]) { stopRequest.yield(.signal($0)) }
        client.start()
        service.start()
        logger.info("ddrouter started", metadata: [
            "amqp.endpoints": "\(settings.amqp.endpoints.map(\.description).joined(separator: ","))",
            "amqp.vhost": "\(settings.amqp.vhost)",
        ])
        // systemd (Type=notify): READY=1 only once the broker connection is up and the
        // topology declared; WATCHDOG=1 at half of WatchdogSec while the process lives;
        // STOPPING=1 on shutdown. STATUS= never carries personal data.
        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let readiness = Task {
            while !Task.isCancelled {
                if (try? await client.waitUntilConnected(timeout: .seconds(5))) != nil {
                    notifier.ready(status: "connected to \(settings.amqp.endpoints.map(\.description).joined(separator: ","))")
                    return
                }
                notifier.status("waiting for the broker")
            }
        }
        let watchdog = Task {
            guard let interval = notifier.watchdogInterval else { return }
            while !Task.isCancelled {
                notifier.watchdog()
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
        switch reason {
        case .signal(let signal):
            logger.info("stopping", metadata: ["signal": "\(signal)"])
            notifier.stopping(status: "stopping on signal \(signal)")
        case .failure(let why):
            logger.critical("stopping: the service failed", metadata: ["error": "\(why)"])
            notifier.stopping(status: "stopping: consuming ended with an error, see the log")
        }
        readiness.cancel()
        await service.shutdown(client: client, flushTimeout: .seconds(flushSeconds))
        await client.close()
        watchdog.cancel()
        withExtendedLifetime(signals) {}
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
