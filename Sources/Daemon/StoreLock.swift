import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive advisory lock (`flock`) on `<store path>.lock`, held by `ddrouter run` for
/// as long as it runs and by the offline commands that change the store behind the
/// daemon's back (`ddrouter timers run`). A second holder is refused at once, never waited
/// for: two daemons on one store would both relay its outbox, and a clock moved forward
/// under a running daemon would fire timers twice over. The kernel drops the lock when the
/// process ends, however it ends (kill -9 included), so a crash never leaves it behind.
public final class StoreLock: Sendable {
    private let descriptor: Int32
    /// The lock file's path.
    public let path: String

    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// Another process holds the lock (a running daemon, or an offline command).
        case held(path: String)
        /// The lock file cannot be opened or created.
        case cannotOpen(path: String, errno: Int32)

        public var description: String {
            switch self {
            case .held(let path):
                return "another ddrouter process uses the store (lock \(path) is held): stop it first"
            case .cannotOpen(let path, let code):
                return "the store lock \(path) cannot be opened: \(String(cString: strerror(code)))"
            }
        }
    }

    /// The lock file of the store at `storePath`.
    public static func path(forStore storePath: String) -> String { storePath + ".lock" }

    /// Takes the lock of the store at `storePath` (creating its directory, owner-only, and
    /// the lock file when missing), or throws `Failure.held` when another process has it.
    public init(store storePath: String) throws(Failure) {
        let path = Self.path(forStore: storePath)
        let directory = (storePath as NSString).deletingLastPathComponent
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory) {
            try? FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        // An operator account that may read the state directory but not write it can still
        // take the lock on the daemon's existing file.
        if fd < 0 { fd = open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { throw .held(path: path) }
            throw .cannotOpen(path: path, errno: code)
        }
        descriptor = fd
        self.path = path
    }

    deinit { close(descriptor) }
}
