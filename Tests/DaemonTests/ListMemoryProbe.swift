import AMQP
@testable import Contract
@testable import Daemon
import Foundation
import Glibc
import Testing
import Workflow

/// Not a test of the suite: a measurement for docs/performance.md ("Memory"), run by hand with
///   DDR_MEMORY_PROBE=1 swift test --skip-build --filter ListMemoryProbe
/// (DDR_MEMORY_PROBE_ENTRIES, DDR_MEMORY_PROBE_PROCESS_ENTRIES set the list sizes). It prints
/// the peak RSS growth (VmHWM, reset through /proc/self/clear_refs) of decoding a list the old
/// way (whole tree) and entry by entry, and of processing it in one slice and in slices.
@Suite("List memory probe (by hand, DDR_MEMORY_PROBE=1)")
struct ListMemoryProbe {
    static let enabled = ProcessInfo.processInfo.environment["DDR_MEMORY_PROBE"] != nil

    static func kib(_ field: String) -> Double {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return 0
    }

    /// Peak RSS growth of `body` in MiB: glibc's free memory returned first, then the
    /// kernel's high-water mark reset to the current RSS.
    static func peakGrowth<T>(_ label: String, _ body: () async throws -> T) async rethrows -> T {
        // glibc's malloc_trim (not in the Glibc module): free memory back to the kernel.
        if let trim = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(trim, to: (@convention(c) (Int) -> Int32).self)(0)
        }
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let before = kib("VmRSS")
        let result = try await body()
        let peak = kib("VmHWM")
        let after = kib("VmRSS")
        print(String(format: "probe %@: peak RSS +%.1f MiB, still held after +%.1f MiB (from %.1f MiB)",
                     label, (peak - before) / 1024, (after - before) / 1024, before / 1024))
        return result
    }

    static let information = #"{"substanceTreatment":{"since":"2024-03-01","setting":"outpatient","substances":["cannabis","stimulants"]},"earlierOffers":[{"offer":"ambulant rådgivning","from":"2022-05-01","to":"2023-01-31","outcome":"dropped-out"}],"functionalLevel":"severely-impaired","complexityNotes":"Hjemløs i perioder.","contactPerson":{"name":"Kontakt Person","role":"rusmiddelkonsulent","phone":"+45 99 31 31 31","email":"kontakt@kommune.example"}}"#

    /// A list like the benchmark's (626-byte entries, consent given for 9 in 10).
    static func body(_ count: Int) -> Data {
        var s = #"{"schemaVersion":"1.0","municipality":"851","clinic":"amb-syd-aalborg","listKind":"list-1","asOf":"2026-11-23","entries":["#
        for n in 0..<count {
            if n > 0 { s += "," }
            let cpr = String(format: "%02d%02d%02d4%03d", 1 + n % 28, 1 + (n / 28) % 12, 30 + (n / 336) % 70, n % 1000)
            let consent = n % 10 == 9
                ? #"{"status":"absent"}"#
                : #"{"status":"given","date":"2026-10-02","directions":["municipality-to-region","region-to-municipality"],"declarationRef":"SAMTYKKE-2026-0142"}"#
            s += #"{"cpr":""# + cpr + #"","consent":"# + consent + #","municipalInformation":"# + information + "}"
        }
        return Data((s + "]}").utf8)
    }

    @Test(.enabled(if: enabled))
    func measure() async throws {
        let environment = ProcessInfo.processInfo.environment
        let count = Int(environment["DDR_MEMORY_PROBE_ENTRIES"] ?? "") ?? 26_800
        let processCount = Int(environment["DDR_MEMORY_PROBE_PROCESS_ENTRIES"] ?? "") ?? 3_000
        let properties = InboundProperties(
            type: "municipal-list", messageID: "probe", userID: "municipality-851", contentType: "application/json",
            exchange: "dd.in.municipality.851")
        var whole = ListSliceTests.decoder
        whole.streamsLists = false
        let body = Self.body(count)
        print("probe: \(count) entries, body \(body.count) bytes")
        _ = try await Self.peakGrowth("decode \(count), whole tree") { try whole.decode(properties: properties, body: body).get() }
        let streamed = try await Self.peakGrowth("decode \(count), entry by entry") {
            try ListSliceTests.decoder.decode(properties: properties, body: body).get()
        }
        #expect(streamed.acceptedEntryIndices.count == count)

        let small = Self.body(processCount)
        let decoded = try ListSliceTests.decoder.decode(properties: properties, body: small).get()
        guard case .municipalList(let list) = decoded.message, let asOf = LocalDate(iso: list.asOf.description) else { return }
        for size in [Pipeline.listSliceSize, Int.max] {
            let rig = try ListSliceTests.Rig()
            defer { rig.close() }
            let start = ContinuousClock.now
            let settlement = await Self.peakGrowth("process \(processCount), slice \(size == .max ? "whole" : String(size))") {
                await rig.pipeline.process(list: list, asOf: asOf, decoded: decoded, at: ListSliceTests.now, sliceSize: size)
            }
            print("probe: processed in \(ContinuousClock.now - start)")
            #expect(settlement == .ack)
        }
    }
}
