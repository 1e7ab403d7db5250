// Fuzz target: the message decoder for every inbound type (the input's first byte picks the
// type, the sender kind and the limits: FuzzSupport.delivery). Properties: no crash; every
// rejection has a reason; an accepted message's indices partition its entries; deferred
// entries decode, one per accepted entry.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecode(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let (decoder, properties, body) = FuzzSupport.delivery(fuzzInput(start, count)) else { return 0 }
    switch decoder.decode(properties: properties, body: body) {
    case .failure(let rejection):
        if rejection.reason.isEmpty { FuzzSupport.fail("a rejection without a reason") }
    case .success(let decoded):
        let accepted = decoded.acceptedEntryIndices
        let rejected = decoded.rejectedEntries.map(\.index)
        guard Set(accepted).isDisjoint(with: rejected), accepted == accepted.sorted(), rejected == rejected.sorted() else {
            FuzzSupport.fail("accepted and rejected entries overlap or are out of order")
        }
        do {
            switch decoded.message {
            case .municipalList:
                guard try decoded.municipalEntries(0..<accepted.count).count == accepted.count else {
                    FuzzSupport.fail("municipal entries: not one per accepted index")
                }
            case .contactStatus:
                guard try decoded.contactStatusEntries(0..<accepted.count).count == accepted.count else {
                    FuzzSupport.fail("contact-status entries: not one per accepted index")
                }
            case .clinicList(let list):
                guard list.entries.count == accepted.count else { FuzzSupport.fail("clinic entries: not one per accepted index") }
            default:
                guard accepted.isEmpty, rejected.isEmpty else { FuzzSupport.fail("entries on a message without entries") }
            }
        } catch {
            FuzzSupport.fail("accepted entries do not decode: \(error)")
        }
    }
    return 0
}
