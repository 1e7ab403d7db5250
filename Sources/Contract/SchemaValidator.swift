import Foundation

/// One way a body breaks the contract's schema, already mapped to a rejection code.
struct SchemaIssue: Sendable, Hashable {
    let pointer: JSONPointer
    let code: RejectionCode
    /// Names the field and the problem; never contains the offending value.
    let reason: String
}

/// The contract's JSON Schemas (draft 2020-12), compiled once.
///
/// The validator implements the keywords the schemas use — `$ref`, `type`, `const`,
/// `enum`, `properties`, `required`, `additionalProperties`, `items`, `minItems`,
/// `maxItems`, `uniqueItems`, `contains`, `minLength`, `maxLength`, `pattern`,
/// `minimum`, `maximum`, `format` (`date`, `date-time`, `cpr`), `allOf`, `if`/`then`/`else`
/// — plus two annotations of ours: `x-rejection-code` (the code for any failure of that
/// subschema) and `x-codebook` (the value must be in the caller's `CodeBook`). An unknown
/// keyword in a schema makes `init` fail, so the schemas cannot silently drift away from
/// what is enforced.
final class SchemaSet: @unchecked Sendable {
    // @unchecked Sendable: every stored property is immutable after init, and
    // NSRegularExpression is documented thread-safe for matching.
    private let documents: [String: JSONValue]
    private let idByType: [String: String]
    private let regexes: [String: NSRegularExpression]
    /// "<base>#<reference>" → resolved schema and its document id, filled at init.
    private let references: [String: (JSONValue, String)]

    static let supportedKeywords: Set<String> = [
        "$schema", "$id", "$defs", "$ref", "title", "description", "type", "const", "enum", "properties", "required",
        "additionalProperties", "items", "minItems", "maxItems", "uniqueItems", "contains", "minLength", "maxLength",
        "pattern", "minimum", "maximum", "format", "allOf", "if", "then", "else", "x-rejection-code", "x-codebook",
    ]

    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    /// `texts`: file name without `.schema.json` → schema JSON text.
    init(texts: [String: String]) throws {
        var documents: [String: JSONValue] = [:]
        var idByType: [String: String] = [:]
        var patterns: Set<String> = []
        for (name, text) in texts {
            let value = try JSONValue.parse(Data(text.utf8))
            guard case .object(let root) = value, case .string(let id)? = root["$id"] else {
                throw LoadError(description: "schema \(name) has no $id")
            }
            documents[id] = value
            idByType[name] = id
            try SchemaSet.collect(value, name: name, patterns: &patterns)
        }
        var regexes: [String: NSRegularExpression] = [:]
        for pattern in patterns {
            regexes[pattern] = try NSRegularExpression(pattern: pattern)
        }
        self.documents = documents
        self.idByType = idByType
        self.regexes = regexes
        var references: [String: (JSONValue, String)] = [:]
        for (id, document) in documents {
            SchemaSet.collectReferences(document, base: id) { reference, base in
                if let target = SchemaSet.resolve(reference, base: base, in: documents) {
                    references[base + "#" + reference] = target
                }
            }
        }
        self.references = references
    }

    private static func collectReferences(_ schema: JSONValue, base: String, _ found: (String, String) -> Void) {
        switch schema {
        case .object(let object):
            for (key, value) in object {
                if key == "$ref", case .string(let reference) = value { found(reference, base) }
                if key != "enum", key != "const" { collectReferences(value, base: base, found) }
            }
        case .array(let items):
            for item in items { collectReferences(item, base: base, found) }
        case .null, .bool, .number, .string:
            break
        }
    }

    /// The schemas compiled into the module (`EmbeddedSchemas`).
    static let embedded: SchemaSet = {
        do {
            return try SchemaSet(texts: EmbeddedSchemas.all)
        } catch {
            // The embedded text is checked by tests and scripts/check-schemas.py.
            fatalError("embedded contract schemas do not load: \(error)")
        }
    }()

    private static func collect(_ schema: JSONValue, name: String, patterns: inout Set<String>) throws {
        switch schema {
        case .object(let object):
            for (key, value) in object {
                if key == "properties" || key == "$defs" {
                    guard case .object(let children) = value else { continue }
                    for child in children.values { try collect(child, name: name, patterns: &patterns) }
                    continue
                }
                guard supportedKeywords.contains(key) else {
                    throw LoadError(description: "schema \(name) uses keyword \(key), which the Swift validator does not implement")
                }
                if key == "pattern", case .string(let pattern) = value { patterns.insert(pattern) }
                if key == "enum" || key == "const" { continue }
                try collect(value, name: name, patterns: &patterns)
            }
        case .array(let items):
            for item in items { try collect(item, name: name, patterns: &patterns) }
        case .null, .bool, .number, .string:
            break
        }
    }

    func hasSchema(for type: String) -> Bool { idByType[type] != nil }

    /// Validates `instance` against the schema of message type `type`.
    ///
    /// `elided`: the array at `pointer` stands for one of `count` items whose items are
    /// validated one by one with `validateEntry` (a streamed list, see `entriesSchema`):
    /// its size keywords are checked against `count`, its items are not visited.
    func validate(
        _ instance: JSONValue, type: String, codeBook: CodeBook, elided: (pointer: JSONPointer, count: Int)? = nil
    ) -> [SchemaIssue] {
        guard let id = idByType[type], let schema = documents[id] else {
            return [SchemaIssue(pointer: .root, code: .unknownType, reason: "No schema for this message type.")]
        }
        var run = Run(set: self, codeBook: codeBook)
        run.elided = elided
        run.validate(instance, schema, base: id, at: .root, code: nil)
        return run.issues
    }

    /// The item schema of the top-level `entries` array of message type `type` (with the
    /// id its references resolve against), if that array can be validated item by item:
    /// `entries` is a plain property schema using no keyword that looks at several items
    /// together (`uniqueItems`, `contains`) and the root has no keyword applying further
    /// schemas to it (`allOf`, `if`, `$ref`).
    func entriesSchema(for type: String) -> (schema: JSONValue, base: String)? {
        guard let id = idByType[type], case .object(let root)? = documents[id],
            root["allOf"] == nil, root["if"] == nil, root["$ref"] == nil,
            case .object(let properties)? = root["properties"], case .object(let entries)? = properties["entries"],
            let items = entries["items"],
            Set(entries.keys).isSubset(of: ["type", "minItems", "maxItems", "items", "description", "title"])
        else { return nil }
        return (items, id)
    }

    /// Validates one element of the top-level `entries` array (see `entriesSchema`), with
    /// the same issues, pointers and order as validating the whole document would give.
    func validateEntry(
        _ entry: JSONValue, index: Int, schema: (schema: JSONValue, base: String), codeBook: CodeBook
    ) -> [SchemaIssue] {
        var run = Run(set: self, codeBook: codeBook)
        run.validate(entry, schema.schema, base: schema.base, at: JSONPointer(["entries", String(index)]), code: nil)
        return run.issues
    }

    fileprivate func resolve(_ reference: String, base: String) -> (JSONValue, String)? {
        references[base + "#" + reference] ?? SchemaSet.resolve(reference, base: base, in: documents)
    }

    private static func resolve(_ reference: String, base: String, in documents: [String: JSONValue]) -> (JSONValue, String)? {
        let parts = reference.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        var documentID = base
        if let file = parts.first, !file.isEmpty {
            let directory = base.range(of: "/", options: .backwards).map { String(base[..<$0.upperBound]) } ?? ""
            documentID = file.contains("://") ? String(file) : directory + file
        }
        guard var node = documents[documentID] else { return nil }
        if parts.count == 2 {
            for token in parts[1].split(separator: "/") {
                guard case .object(let object) = node, let next = object[String(token)] else { return nil }
                node = next
            }
        }
        return (node, documentID)
    }

    fileprivate func matches(_ pattern: String, _ text: String) -> Bool {
        guard let regex = regexes[pattern] else { return false }
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        guard let match = regex.firstMatch(in: text, range: range) else { return false }
        // ECMA-262 "$" matches only at the very end; ICU's also before a final newline.
        if pattern.hasSuffix("$") && !pattern.hasSuffix("\\$") {
            return match.range.location + match.range.length == range.length
        }
        return true
    }
}

private struct Run {
    let set: SchemaSet
    let codeBook: CodeBook
    var issues: [SchemaIssue] = []
    /// An array whose items are validated elsewhere (`SchemaSet.validate(_:type:codeBook:elided:)`).
    var elided: (pointer: JSONPointer, count: Int)?

    init(set: SchemaSet, codeBook: CodeBook) {
        self.set = set
        self.codeBook = codeBook
    }

    mutating func add(_ pointer: JSONPointer, _ code: RejectionCode, _ problem: String) {
        issues.append(SchemaIssue(pointer: pointer, code: code, reason: Run.name(pointer) + " " + problem))
    }

    static func name(_ pointer: JSONPointer) -> String {
        pointer.tokens.isEmpty ? "The body" : "`\(pointer)`"
    }

    /// Whether `instance` is valid against `schema`, without recording issues (for `if`).
    func isValid(_ instance: JSONValue, _ schema: JSONValue, base: String, at pointer: JSONPointer) -> Bool {
        var probe = Run(set: set, codeBook: codeBook)
        probe.elided = elided
        probe.validate(instance, schema, base: base, at: pointer, code: nil)
        return probe.issues.isEmpty
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    mutating func validate(_ instance: JSONValue, _ schemaValue: JSONValue, base: String, at pointer: JSONPointer,
                           code inherited: RejectionCode?) {
        guard case .object(let schema) = schemaValue else { return }
        var code = inherited
        if case .string(let raw)? = schema["x-rejection-code"], let own = RejectionCode(rawValue: raw) { code = own }
        let before = issues.count

        if case .string(let reference)? = schema["$ref"] {
            if let (target, targetBase) = set.resolve(reference, base: base) {
                validate(instance, target, base: targetBase, at: pointer, code: code)
            } else {
                add(pointer, .schemaViolation, "cannot be checked: the schema reference \(reference) is broken.")
            }
            if issues.count > before { return }
        }

        if let typeValue = schema["type"] {
            let allowed: [String] = switch typeValue {
            case .string(let one): [one]
            case .array(let many): many.compactMap { if case .string(let s) = $0 { s } else { nil } }
            case .null, .bool, .number, .object: []
            }
            let actual = instance.schemaTypeName
            let ok = allowed.contains(actual) || (actual == "integer" && allowed.contains("number"))
            if !ok {
                add(pointer, code ?? .wrongType, "must be \(allowed.map(Run.article).joined(separator: " or ")), not \(Run.article(actual)).")
                return
            }
        }

        if let constant = schema["const"], constant != instance {
            add(pointer, code ?? .invalidValue, "must be \(Run.literal(constant)).")
            return
        }
        if case .array(let options)? = schema["enum"], !options.contains(instance) {
            add(pointer, code ?? .invalidValue, "must be one of: \(options.map(Run.literal).joined(separator: ", ")).")
            return
        }

        switch instance {
        case .string(let text):
            validateString(text, schema, at: pointer, code: code)
        case .number(let number):
            if case .number(let minimum)? = schema["minimum"], number < minimum {
                add(pointer, code ?? .invalidValue, "must be at least \(Run.number(minimum)).")
            }
            if case .number(let maximum)? = schema["maximum"], number > maximum {
                add(pointer, code ?? .invalidValue, "must be at most \(Run.number(maximum)).")
            }
        case .array(let items):
            validateArray(items, schema, base: base, at: pointer, code: code)
        case .object(let object):
            validateObject(object, schema, base: base, at: pointer)
        case .null, .bool:
            break
        }

        if case .array(let all)? = schema["allOf"] {
            for sub in all { validate(instance, sub, base: base, at: pointer, code: code) }
        }
        if let condition = schema["if"] {
            if isValid(instance, condition, base: base, at: pointer) {
                if let then = schema["then"] { validate(instance, then, base: base, at: pointer, code: code) }
            } else if let otherwise = schema["else"] {
                validate(instance, otherwise, base: base, at: pointer, code: code)
            }
        }
    }

    mutating func validateString(_ text: String, _ schema: [String: JSONValue], at pointer: JSONPointer,
                                 code: RejectionCode?) {
        let length = text.unicodeScalars.count
        if case .number(let minimum)? = schema["minLength"], Double(length) < minimum {
            add(pointer, code ?? .invalidValue,
                minimum == 1 ? "must not be empty." : "must be at least \(Run.number(minimum)) characters long.")
            return
        }
        if case .number(let maximum)? = schema["maxLength"], Double(length) > maximum {
            add(pointer, code ?? .invalidValue, "must be at most \(Run.number(maximum)) characters long.")
            return
        }
        let format: String? = if case .string(let f)? = schema["format"] { f } else { nil }
        // The formats are stricter than their patterns (same form, plus a real date), so for
        // them the format check alone decides; it spares a regular expression per value.
        switch format {
        case "cpr":
            if case .failure(let error) = CPR.parse(text) {
                add(pointer, code ?? .invalidCPR, error.problem.explanation + ".")
                return
            }
        case "date":
            if CalendarDate(iso: text) == nil {
                add(pointer, code ?? .invalidDate, Run.hasDateShape(text)
                    ? "is not a real calendar date (YYYY-MM-DD)." : "is not a date of the form YYYY-MM-DD.")
                return
            }
        case "date-time":
            if Timestamp(iso: text) == nil {
                add(pointer, code ?? .invalidDate,
                    "is not a real date-time of the form YYYY-MM-DDTHH:MM:SS with Z or an offset (RFC 3339).")
                return
            }
        default:
            if case .string(let pattern)? = schema["pattern"], !set.matches(pattern, text) {
                add(pointer, code ?? .invalidValue, "does not have the required form (pattern \(pattern)).")
                return
            }
        }
        if case .string(let book)? = schema["x-codebook"], let kind = CodeBookKind(rawValue: book),
            !codeBook.contains(kind, text)
        {
            add(pointer, kind.unknownCode, "is not a \(kind.rawValue) the router knows (not in its code book).")
        }
    }

    mutating func validateArray(_ items: [JSONValue], _ schema: [String: JSONValue], base: String,
                                at pointer: JSONPointer, code: RejectionCode?) {
        let isElided = elided.map { $0.pointer == pointer } ?? false
        let count = isElided ? elided?.count ?? 0 : items.count
        if case .number(let minimum)? = schema["minItems"], Double(count) < minimum {
            add(pointer, code ?? .invalidValue,
                minimum == 1 ? "must not be empty." : "must have at least \(Run.number(minimum)) items.")
            return
        }
        if case .number(let maximum)? = schema["maxItems"], Double(count) > maximum {
            add(pointer, code ?? .invalidValue, "must have at most \(Run.number(maximum)) items.")
            return
        }
        // Its items are validated one by one by the caller (`validateEntry`).
        if isElided { return }
        if case .bool(true)? = schema["uniqueItems"], Set(items).count != items.count {
            add(pointer, code ?? .invalidValue, "must not contain the same item twice.")
            return
        }
        if let contains = schema["contains"],
            !items.enumerated().contains(where: { isValid($0.element, contains, base: base, at: pointer.appending($0.offset)) })
        {
            let wanted = if case .object(let c) = contains, let constant = c["const"] { Run.literal(constant) } else { "a matching item" }
            add(pointer, code ?? .invalidValue, "must contain \(wanted).")
        }
        if let itemSchema = schema["items"] {
            for (index, item) in items.enumerated() {
                validate(item, itemSchema, base: base, at: pointer.appending(index), code: nil)
            }
        }
    }

    mutating func validateObject(_ object: [String: JSONValue], _ schema: [String: JSONValue], base: String,
                                 at pointer: JSONPointer) {
        let properties: [String: JSONValue] = if case .object(let p)? = schema["properties"] { p } else { [:] }
        if case .array(let required)? = schema["required"] {
            for case .string(let name) in required where object[name] == nil {
                add(pointer.appending(name), .missingField, "is required but missing.")
            }
        }
        if case .bool(false)? = schema["additionalProperties"] {
            for key in object.keys.sorted() where properties[key] == nil {
                if Run.isSafeToEcho(key) {
                    add(pointer.appending(key), .unknownField, "is not a field of this message (unknown fields are rejected).")
                } else {
                    add(pointer, .unknownField,
                        "has a field that is not part of this message (its name is withheld because it looks like data).")
                }
            }
        }
        for key in object.keys.sorted() {
            guard let value = object[key] else { continue }
            if let propertySchema = properties[key] {
                validate(value, propertySchema, base: base, at: pointer.appending(key), code: nil)
            } else if let additional = schema["additionalProperties"], case .object = additional {
                validate(value, additional, base: base, at: pointer.appending(key), code: nil)
            }
        }
    }

    /// A field name is echoed only if it cannot be data: short, a letter first, no digit runs.
    static func isSafeToEcho(_ key: String) -> Bool {
        guard !key.isEmpty, key.utf8.count <= 40, let first = key.unicodeScalars.first,
            ("a"..."z").contains(first) || ("A"..."Z").contains(first)
        else { return false }
        var run = 0
        for scalar in key.unicodeScalars {
            let isDigit = ("0"..."9").contains(scalar)
            let isWord = ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "-" || scalar == "_"
            guard isDigit || isWord else { return false }
            run = isDigit ? run + 1 : 0
            if run >= 3 { return false }
        }
        return true
    }

    static func hasDateShape(_ text: String) -> Bool {
        let u = Array(text.utf8)
        return u.count == 10 && u.enumerated().allSatisfy { index, byte in
            index == 4 || index == 7 ? byte == UInt8(ascii: "-") : (byte >= 48 && byte <= 57)
        }
    }

    static func article(_ type: String) -> String {
        switch type {
        case "object", "array", "integer": "an \(type)"
        case "null": "null"
        default: "a \(type)"
        }
    }

    static func literal(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): s
        case .bool(let b): String(b)
        case .number(let n): number(n)
        case .null: "null"
        case .array, .object: "the documented value"
        }
    }

    static func number(_ n: Double) -> String {
        n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
    }
}
