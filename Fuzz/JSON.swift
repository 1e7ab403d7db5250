// Fuzz target: the strict JSON parser (Sources/Contract/JSONParser.swift), both entry points.
// Properties: no crash; a parsed value re-encodes to JSON that parses to the same value;
// the streaming parse of an object agrees with the whole-tree parse, and each streamed
// element's own bytes parse to that element.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let data = fuzzInput(start, count)
    let whole = try? JSONParser.parse(data)
    if let whole {
        guard let again = try? JSONParser.parse(try! ContractEncoding.encoder().encode(whole)) else {
            FuzzSupport.fail("a parsed value re-encoded does not parse")
        }
        guard again == whole else { FuzzSupport.fail("a parsed value re-encoded parses to another value") }
    }
    var elements: [JSONValue] = []
    let streamed = try? JSONParser.parse(data, streamingArrayAt: "entries") { index, value, range in
        guard index == elements.count else { FuzzSupport.fail("streamed indices out of order") }
        guard (try? JSONParser.parse(data[range])) == value else {
            FuzzSupport.fail("a streamed element's bytes do not parse to the element")
        }
        elements.append(value)
    }
    guard (streamed == nil) == (whole == nil) else { FuzzSupport.fail("the streaming and whole parses disagree on validity") }
    if let streamed, let whole {
        if let count = streamed.count {
            guard case .object(var object) = whole, case .array(let array)? = object["entries"], array.count == count,
                array == elements
            else { FuzzSupport.fail("the streamed elements are not the whole parse's entries") }
            object["entries"] = .array([])
            guard streamed.value == .object(object) else { FuzzSupport.fail("the streamed tree differs outside entries") }
        } else {
            guard streamed.value == whole else { FuzzSupport.fail("the streamed tree differs from the whole parse") }
        }
    }
    return 0
}
