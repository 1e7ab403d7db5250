import AMQP
import ArgumentParser
import Daemon
import Foundation
import Store

/// What the admin commands share: the configuration, the store opened with the configured
/// key, and who the operator is (for the audit trail).
struct AdminOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML); DDROUTER_* variables override its keys.")
    var config: String = "/etc/ddrouter/ddrouter.yaml"
}

/// The operator looking at citizens' data, and why: both go into the audit trail.
struct AccessOptions: ParsableArguments {
    @Option(name: .long, help: "Why you look (recorded in the audit trail), e.g. a ticket number.")
    var purpose: String

    @Option(name: .long, help: "Who you are (recorded in the audit trail). Default: $SUDO_USER or $USER.")
    var `operator`: String?

    /// The audit actor: `operator:<name>`.
    var actor: String {
        let env = ProcessInfo.processInfo.environment
        let name = `operator` ?? env["SUDO_USER"] ?? env["USER"] ?? env["LOGNAME"] ?? "unknown"
        return "operator:\(name)"
    }

    func validate() throws {
        if purpose.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--purpose must say why you look (it is recorded in the audit trail)")
        }
    }
}

struct AdminContext {
    let settings: DaemonSettings
    let store: Store
    let pseudonymizer: Pseudonymizer

    /// Opens the store of the configuration at `config`; exits 78 on a configuration
    /// problem, 74 (EX_IOERR) when the store cannot be opened.
    static func open(config: String) async throws -> AdminContext {
        let settings = try await DaemonSettings.loadOrExit(config: config)
        let storeSettings = try await StoreSettings.loadOrExit(config: config)
        do {
            let keys = try StoreKeys(master: storeSettings.masterKey)
            let store = try Store(path: storeSettings.path, auditKey: keys.auditKey)
            return AdminContext(settings: settings, store: store, pseudonymizer: try Pseudonymizer(key: keys.pseudonymKey))
        } catch {
            fail("store \(storeSettings.path): \(error)", code: 74)
        }
    }

    /// The pseudonym of a CPR number the operator typed.
    func pseudonym(cpr: String) throws -> Pseudonym {
        do {
            return try pseudonymizer.pseudonym(forCPR: cpr)
        } catch {
            throw ValidationError("not a CPR number: ten digits, DDMMYYSSSS or DDMMYY-SSSS")
        }
    }
}

/// Prints `message` to standard error and exits with `code`.
/// The line for a login the broker refused (`AMQPError.isRefusedLogin`): who, where, and the
/// broker's own words.
func refusedLogin(_ error: AMQPError, user: String, vhost: String) -> String {
    let what = error.code == .vhostAccessRefused
        ? "the broker refused the login of user '\(user)' to vhost '\(vhost)' (no access to the vhost, or it does not exist)"
        : "the broker refused the login of user '\(user)' on vhost '\(vhost)' (wrong password or certificate, or unknown user)"
    return "\(what): \(error)"
}

func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("ddrouter: \(message)\n".utf8))
    exit(code)
}

enum Format {
    static func time(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// A message id as it may be printed: ids that could hide a CPR (six digits or more in
    /// a row) are not shown.
    static func messageID(_ id: String?) -> String {
        guard let id, !id.isEmpty else { return "-" }
        var run = 0
        for character in id {
            run = character.isASCII && character.isNumber ? run + 1 : 0
            if run >= 6 { return "(redacted)" }
        }
        return String(id.prefix(128))
    }

    /// Cells padded to the widest in each column.
    static func table(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let widths = first.indices.map { i in rows.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { i in i == row.count - 1 ? row[i] : row[i].padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
