import Foundation
import Hummingbird
public import Logging
import ServiceLifecycle
import Synchronization

/// The daemon's HTTP endpoints (Hummingbird), bound to loopback by default:
/// - `GET /metrics`: Prometheus text exposition (version 0.0.4);
/// - `GET /livez`: 200 while the process serves requests;
/// - `GET /readyz`: 200 `ready` when `DaemonHealth` says so, else 503 with the reason.
///
/// Nothing served here carries personal data: metric labels are bounded (`MetricLabel`) and
/// readiness reasons are fixed texts.
public final class HTTPEndpoint: Sendable {
    /// The port actually bound (differs from the configured one when that was 0).
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Binds and starts serving; returns once the socket listens, or throws when it cannot bind.
    public static func start(
        host: String, port: Int, health: DaemonHealth, metrics: @escaping @Sendable () -> String, logger: Logger
    ) async throws -> HTTPEndpoint {
        let router = Router()
        router.get("livez") { _, _ in
            text(.ok, "alive\n")
        }
        router.get("readyz") { _, _ in
            let readiness = health.readiness()
            return text(readiness.ready ? .ok : .serviceUnavailable, readiness.reason + "\n")
        }
        router.get("metrics") { _, _ in
            text(.ok, metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        let (bound, boundSink) = AsyncStream.makeStream(of: Int.self)
        var httpLogger = logger
        // Hummingbird's own per-request lines are debug; keep the server's info lines.
        httpLogger.logLevel = max(logger.logLevel, .info)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                boundSink.yield(channel.localAddress?.port ?? port)
                boundSink.finish()
            },
            logger: httpLogger)
        // In a service group of its own, so that `stop()` can shut the server down gracefully.
        // Cancelling `app.run()` instead made Hummingbird log "Waiting on child channel:
        // CancellationError()" at error level on every clean stop (issue 14, item 14).
        var groupConfiguration = ServiceGroupConfiguration(services: [app], logger: httpLogger)
        // A connection still busy after this is cancelled (then Hummingbird does log that error).
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(5)
        let group = ServiceGroup(configuration: groupConfiguration)
        let task = Task {
            do {
                try await group.run()
            } catch {
                boundSink.finish()
                throw error
            }
        }
        var iterator = bound.makeAsyncIterator()
        guard let actual = await iterator.next() else {
            do {
                try await task.value
            } catch {
                throw HTTPEndpointError(message: "cannot serve HTTP on \(host):\(port): \(error)")
            }
            throw HTTPEndpointError(message: "the HTTP server on \(host):\(port) stopped before listening")
        }
        return HTTPEndpoint(port: actual, group: group, task: task)
    }

    /// Stops serving: no new connections; requests in progress are answered (for at most
    /// 5 s), idle keep-alive connections are closed.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }

    static func text(_ status: HTTPResponse.Status, _ body: String, contentType: String = "text/plain; charset=utf-8")
        -> Response
    {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

public struct HTTPEndpointError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
