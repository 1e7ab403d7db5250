import CZlib
import Crypto
import Foundation
import Synchronization

/// Raw deflate (zlib) with a preset dictionary, for `StoreBinary` version 3: a case state or
/// history blob is compressed when that makes it smaller (docs/performance.md, 3f).
///
/// A blob of a few hundred bytes compresses poorly on its own: its keys and the router's
/// fixed phrases occur once in it. Deflate's preset dictionary gives the compressor those
/// strings as if they had just been written, so a blob refers back to them. The dictionary is
/// part of the stored format: `dictionary1` can never change (a test pins its SHA-256); a
/// better one is a new layout version with its own dictionary, and the old one stays for
/// reading. It holds no personal data: field names as the binary layout writes them, the
/// workflow's status and enum values, and the fixed parts of its explanations.
enum StoreDeflate {
    /// Window of 2^12 bytes: the dictionary (about 2 KiB) and a blob fit in it. A reader
    /// must use the same window or a larger one; version 3 fixes it.
    static let windowBits: Int32 = 12
    static let level: Int32 = 6
    static let memoryLevel: Int32 = 6

    /// Blobs shorter than this are stored as they are.
    static let minimumSize = 64

    /// Compressed bytes, or `nil` when they would not be smaller than `bytes`.
    static func deflate(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
        guard bytes.count >= minimumSize else { return nil }
        return compressors.using { stream -> [UInt8]? in
            var out = [UInt8](repeating: 0, count: bytes.count)
            let ok = dictionary1.withUnsafeBufferPointer { dict -> Bool in
                guard deflateReset(stream) == Z_OK,
                    deflateSetDictionary(stream, dict.baseAddress, UInt32(dict.count)) == Z_OK
                else { return false }
                return out.withUnsafeMutableBufferPointer { target -> Bool in
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
                    stream.pointee.avail_in = UInt32(bytes.count)
                    stream.pointee.next_out = target.baseAddress
                    stream.pointee.avail_out = UInt32(target.count)
                    return CZlib.deflate(stream, Z_FINISH) == Z_STREAM_END
                }
            }
            // Not finished within the input's own size: not worth storing compressed.
            guard ok else { return nil }
            out.removeLast(Int(stream.pointee.avail_out))
            return out
        }
    }

    /// The framing of a compressed blob (`StoreBinary` version 3, a `DE 02` history step):
    /// `header` (two bytes), the LEB128 byte count of `bytes` after their own two-byte header,
    /// then those bytes deflated; `nil` when that is not smaller than `bytes`.
    static func framed(_ bytes: [UInt8], header: (UInt8, UInt8)) -> [UInt8]? {
        guard let deflated = bytes.withUnsafeBytes({ deflate(UnsafeRawBufferPointer(rebasing: $0[2...])) }) else {
            return nil
        }
        var out: [UInt8] = [header.0, header.1]
        out.reserveCapacity(deflated.count + 6)
        LEB128.append(UInt64(bytes.count - 2), to: &out)
        guard out.count + deflated.count < bytes.count else { return nil }
        out += deflated
        return out
    }

    /// Reverses `framed`: `header` (the two bytes the uncompressed form starts with), then
    /// what `blob` inflates to after its own header and size. A size over 64 MiB is refused
    /// before anything is allocated.
    static func unframed(_ blob: [UInt8], header: (UInt8, UInt8)) throws(BinaryError) -> [UInt8] {
        guard let (count, start) = LEB128.read(blob, at: 2), count <= 64 << 20 else {
            throw BinaryError("a compressed blob's size is damaged")
        }
        var out: [UInt8] = [header.0, header.1]
        out.reserveCapacity(Int(count) + 2)
        try inflate(blob[start...], count: Int(count), into: &out)
        return out
    }

    /// The `count` bytes `deflate` compressed into `bytes`; throws when they do not inflate
    /// to exactly that many.
    static func inflate(_ bytes: ArraySlice<UInt8>, count: Int, into out: inout [UInt8]) throws(BinaryError) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count))
        let ok = decompressors.using { stream -> Bool in
            // Raw deflate has no header to ask for the dictionary: it is set before inflating.
            guard inflateReset(stream) == Z_OK,
                dictionary1.withUnsafeBufferPointer({ inflateSetDictionary(stream, $0.baseAddress, UInt32($0.count)) }) == Z_OK
            else { return false }
            return bytes.withUnsafeBufferPointer { source -> Bool in
                out.withUnsafeMutableBufferPointer { target -> Bool in
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                    stream.pointee.avail_in = UInt32(source.count)
                    stream.pointee.next_out = target.baseAddress! + start
                    stream.pointee.avail_out = UInt32(count)
                    let status = CZlib.inflate(stream, Z_FINISH)
                    return status == Z_STREAM_END && stream.pointee.avail_out == 0 && stream.pointee.avail_in == 0
                }
            }
        }
        guard ok else { throw BinaryError("a compressed blob does not inflate to its \(count) bytes") }
    }

    // MARK: streams

    /// zlib streams are used by one thread at a time; these are reused (a reset is far
    /// cheaper than an init) and never freed: at most one per thread that ever encoded or
    /// decoded at once.
    final class Streams: Sendable {
        /// A stream is owned by one thread at a time: the one that took it from `free`.
        struct Owned: @unchecked Sendable {
            let stream: UnsafeMutablePointer<z_stream>
        }

        private let free = Mutex<[Owned]>([])
        private let make: @Sendable () -> UnsafeMutablePointer<z_stream>

        init(make: @escaping @Sendable () -> UnsafeMutablePointer<z_stream>) { self.make = make }

        func using<R>(_ body: (UnsafeMutablePointer<z_stream>) throws -> R) rethrows -> R {
            let owned = free.withLock { $0.popLast() } ?? Owned(stream: make())
            defer { free.withLock { $0.append(owned) } }
            return try body(owned.stream)
        }
    }

    static let compressors = Streams {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Raw deflate (negative window bits): no zlib header or checksum; the layout stores
        // the inflated size, and the blob's decoding checks its structure.
        guard ddr_deflate_init(stream, level, -windowBits, memoryLevel) == Z_OK else {
            fatalError("zlib cannot set up a compressor (out of memory)")
        }
        return stream
    }

    static let decompressors = Streams {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard ddr_inflate_init(stream, -windowBits) == Z_OK else {
            fatalError("zlib cannot set up a decompressor (out of memory)")
        }
        return stream
    }

    // MARK: the dictionary

    /// Dictionary 1 of version 3. Deflate finds nearer strings more cheaply, so the most
    /// frequent come last: the explanations' fixed parts, then status and enum values, then
    /// field names, each as the binary layout writes a key met for the first time (its
    /// length, doubled, as LEB128, then its UTF-8), least used first.
    static let dictionary1: [UInt8] = {
        var bytes: [UInt8] = []
        for phrase in dictionary1Phrases { bytes += Array(phrase.utf8) }
        for value in dictionary1Values { bytes += Array(value.utf8) }
        for key in dictionary1Keys {
            LEB128.append(UInt64(key.utf8.count * 2), to: &bytes)
            bytes += Array(key.utf8)
        }
        return bytes
    }()

    static let dictionary1Phrases = [
        "open course at clinic ", ", after the list's date ", ": not current as of the list",
        " open courses; chose clinic ", " is after the list's date ", ": not considered", ": outside the year",
        ": still open on that date, counts as contact within the year", ": more than ", " days, does not count",
        " (R8); the list's date ", " is before it", " is on or after it", "group 3 is phased in from ",
        "no qualifying contact with psychiatry within ", " acute contacts within the year without engagement: counts as contact (exception in R1)",
        ": acute only, does not count", ", motivation failed or treatment rejected after it",
        ", followed by an outpatient course: counts as a course", "emergency-room visit ", " days before ",
        ": within the year", "course at clinic ", " closed ", "in current treatment at clinic ", " since ",
        "assessment case in clinic ", "'s assessment queue", "psychiatry works from its own list until consent is given",
        "consent status: absent", "entry held for lack of consent", "group-3 referral to Central Visitation",
        "referral to Central Visitation", "not in current treatment", "no open psychiatric course",
        "contact status requested from the journal; after ",
        " days without an answer the case goes to Central Visitation for manual visitation",
        "waiting for the journal's contact status", "psychiatric status not known as of ",
    ]

    static let dictionary1Values = [
        "awaitingCollaborationMeeting", "awaitingJointPlan", "awaitingKnowledgeHandover", "awaitingMunicipalPosition",
        "awaitingNetworkMeeting", "awaitingTransition", "inTransition", "endedByPatientChoice", "coordinatedCourse",
        "awaitingJournalStatus", "heldForConsent", "withdrawn", "absent", "referral", "inpatient", "residential",
        "moderately-impaired", "mildly-impaired", "completed", "alcohol", "opioids", "cocaine", "benzodiazepines",
        "clinicAssessment", "centralVisitation", "inAssessment", "R2", "R3", "R4", "R8", "list-2",
        "emergencyRoom", "regionToMunicipality", "courseOverview", "treatmentDialogue", "municipalityToRegion",
        "severely-impaired", "dropped-out", "cannabis", "stimulants", "outpatient", "municipal-list", "list-1",
        "contact-status", "journal.", "clinic.", "municipality.", "ddrouter-rules-1", "R1",
    ]

    static let dictionary1Keys = [
        "listed", "unknown", "heldForConsent", "group3Referral", "inAssessment", "clinicAssessment", "group3",
        "repeatedAcuteContactsWithoutEngagement", "count", "acuteContactFollowedByOutpatientCourse",
        "courseClosedWithinYear", "assessmentRequest", "closedOn", "due", "deadline", "referredToCentralVisitation",
        "centralVisitation", "reason", "treatmentStartDeadline", "centralVisitationReferral",
        "motivationFailedOrTreatmentRejected", "followedByOutpatientCourse", "reference", "journal", "party", "given",
        "status", "on", "known", "date", "contactStatusRequest", "state", "municipalList", "consent", "entries",
        "contact", "listing", "track", "workflowA", "held", "citizen", "listClinic", "informed", "purpose", "direction",
        "to", "list", "municipalInformation", "from", "name", "messageId", "functionalLevel", "id", "complexityNotes",
        "role", "substances", "setting", "earlierOffers", "phone", "type", "contactPerson", "messageType", "email",
        "offer", "substanceTreatment", "clinic", "routing", "_0", "since", "currentCourses", "acuteContacts",
        "closedCourses", "origin", "kind", "messageID", "listedBy", "entry", "rulesVersion", "facts", "summary", "rule",
        "outcome", "source", "municipality", "asOf", "sender",
    ]

    /// SHA-256 of `dictionary1`, pinned by a test.
    static var dictionary1Digest: String {
        Hex.encode(Data(SHA256.hash(data: dictionary1)))
    }
}
