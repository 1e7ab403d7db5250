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
        let signal = await Signals.wait(for: [SIGTERM, SIGINT])
        logger.info("stopping", metadata: ["signal": "\(signal)"])
        notifier.stopping(status: "stopping on signal \(signal)")
        readiness.cancel()
        await service.shutdown(client: client, flushTimeout: .seconds(flushSeconds))
        await client.close()
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
