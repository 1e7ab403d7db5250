import AMQP
import ArgumentParser
import Daemon
import Dispatch
import Foundation
import Logging

/// `ddrouter run`: connects to the broker, declares the topology and keeps the connection
/// (with heartbeats and reconnects) until SIGTERM or SIGINT. The consume → decide → publish
/// pipeline is not wired in yet (see the daemon issue); this is the foundation it runs on.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the daemon: connect to RabbitMQ, declare the topology, serve.")

    @Option(name: .long, help: "Configuration file (YAML); DDROUTER_* variables override its keys.")
    var config: String = "/etc/ddrouter/ddrouter.yaml"

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
        let client = AMQPClient(configuration: settings.amqp, topology: settings.topology, logger: logger)
        client.start()
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
