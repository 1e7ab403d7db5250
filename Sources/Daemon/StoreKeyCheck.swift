public import Foundation
public import Store
import Workflow

/// Whether the configured store key is the key the store was written with, checked by
/// `ddrouter run` before it consumes anything (docs/operations.md, "Change the store key file").
///
/// The key is read once, at start (under systemd `LoadCredential=` copies
/// `/etc/credstore/store-key` into `$CREDENTIALS_DIRECTORY` at each start), so a key file
/// replaced while the daemon runs changes nothing until the next start. At that start a key
/// that is not the store's own would give every known citizen another pseudonym (a second
/// case under a new id for a citizen who has one) and append audit entries chained with
/// another key (the trail no longer verifies). The check recomputes one stored case's
/// pseudonym from the CPR in its state, as `rotate-key` does for every case.
///
/// A store without a case cannot be checked this way (nothing to compare): `.nothingToCompare`.
public enum StoreKeyCheck {
    public enum Outcome: Sendable, Hashable {
        /// The case's pseudonym under the configured key is the stored one.
        case matches(caseID: String)
        /// The store has no case yet.
        case nothingToCompare
        /// The case was written with another key.
        case mismatch(caseID: String)
    }

    /// The one line a mismatch is logged with (no key material, no CPR).
    public static let mismatchMessage = "the store key does not match the store: a stored case was written with another key (was the store-key credential or store.key_file replaced without ddrouter rotate-key?); nothing was changed; put back the key this store was written with, or re-key the store offline with ddrouter rotate-key (docs/operations.md, Change the store key file)"

    /// Compares the oldest-updated case's stored pseudonym with the one `masterKey` gives.
    public static func check(store: Store, masterKey: Data) throws -> Outcome {
        guard let record = try store.cases(limit: 1).first else { return .nothingToCompare }
        let keys = try StoreKeys(master: masterKey)
        let pseudonymizer = try Pseudonymizer(key: keys.pseudonymKey)
        let cpr = try record.decodeState(as: CitizenCase.self).citizen.rawValue
        return try pseudonymizer.pseudonym(forCPR: cpr) == record.pseudonym
            ? .matches(caseID: record.caseID) : .mismatch(caseID: record.caseID)
    }
}
