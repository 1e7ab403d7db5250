import Foundation
import Testing

@testable import Store

@Suite("Pseudonyms and personal data in errors")
struct PseudonymTests {
    let key = Data(repeating: 0x42, count: 32)

    @Test func stableForSameCPRAndKey() throws {
        let p = try Pseudonymizer(key: key)
        let a = try p.pseudonym(forCPR: "0101901234")
        #expect(try p.pseudonym(forCPR: "0101901234") == a)
        #expect(try p.pseudonym(forCPR: "010190-1234") == a)
        #expect(try p.pseudonym(forCPR: " 0101901234\n") == a)
        #expect(try Pseudonymizer(key: key).pseudonym(forCPR: "0101901234") == a)
        #expect(a.hex.count == 32)
        #expect(Pseudonym(hex: a.hex) == a)
    }

    @Test func differsForAnotherKeyOrCPR() throws {
        let a = try Pseudonymizer(key: key).pseudonym(forCPR: "0101901234")
        let b = try Pseudonymizer(key: Data(repeating: 0x43, count: 32)).pseudonym(forCPR: "0101901234")
        let c = try Pseudonymizer(key: key).pseudonym(forCPR: "0101901235")
        #expect(a != b)
        #expect(a != c)
    }

    @Test func neverEqualsOrContainsTheCPR() throws {
        let p = try Pseudonymizer(key: key)
        var seen = Set<Pseudonym>()
        for i in 0..<3000 {
            let cpr = String(format: "%02d%02d%02d%04d", i % 28 + 1, i % 12 + 1, i % 100, i)
            let pseudonym = try p.pseudonym(forCPR: cpr)
            #expect(pseudonym.hex != cpr)
            #expect(!pseudonym.hex.contains(cpr))
            #expect(!pseudonym.description.contains(cpr))
            seen.insert(pseudonym)
        }
        #expect(seen.count == 3000)
    }

    @Test func cprIsNotAPseudonym() {
        #expect(Pseudonym(hex: "0101901234") == nil)
        #expect(Pseudonym(hex: "010190-1234") == nil)
        #expect(Pseudonym(hex: "0123456789ABCDEF0123456789ABCDEF") == nil)
        #expect(Pseudonym(hex: "0123456789abcdef0123456789abcdeg") == nil)
    }

    @Test func invalidCPRErrorDoesNotQuoteIt() throws {
        let p = try Pseudonymizer(key: key)
        for bad in ["01019012345", "010190123", "01019O1234", "0101-901234", ""] {
            do {
                _ = try p.pseudonym(forCPR: bad)
                Issue.record("accepted a malformed CPR")
            } catch let error as StoreError {
                #expect(error.code == .invalidCPR)
                if !bad.isEmpty {
                    #expect(!error.description.contains(bad))
                    #expect(!error.message.contains(bad))
                }
            }
        }
    }

    @Test func pseudonymRoundTripsThroughJSON() throws {
        let p = try Pseudonymizer(key: key).pseudonym(forCPR: "3112999999")
        let data = try StoreJSON.encode(["who": p])
        #expect(try StoreJSON.decode([String: Pseudonym].self, from: data)["who"] == p)
        #expect(throws: StoreError.self) {
            _ = try StoreJSON.decode([String: Pseudonym].self, from: Data("{\"who\":\"3112999999\"}".utf8))
        }
    }

    @Test func derivedKeysAreDistinctAndStable() throws {
        let master = Data(repeating: 7, count: 32)
        let keys = try StoreKeys(master: master)
        #expect(keys.auditKey != keys.pseudonymKey)
        #expect(keys.auditKey.count == 32)
        #expect(try StoreKeys(master: master).auditKey == keys.auditKey)
        #expect(try StoreKeys(master: Data(repeating: 8, count: 32)).auditKey != keys.auditKey)
    }
}
