import CRabbitMQ
import CRabbitMQShims
import Foundation

/// Owns the C memory that one call into rabbitmq-c needs (strings, tables, body copies)
/// and frees all of it when the call is done. Used only on the I/O thread.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for p in allocations { free(p) }
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        var utf8 = Array(string.utf8)
        return bytes(count: utf8.count) { dst in
            utf8.withUnsafeMutableBytes { src in
                if let base = src.baseAddress { dst.copyMemory(from: base, byteCount: src.count) }
            }
        }
    }

    func bytes(_ data: Data) -> amqp_bytes_t {
        bytes(count: data.count) { dst in
            data.withUnsafeBytes { src in
                if let base = src.baseAddress { dst.copyMemory(from: base, byteCount: src.count) }
            }
        }
    }

    func cString(_ string: String) -> UnsafePointer<CChar> {
        let p = strdup(string)!
        allocations.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    private func bytes(count: Int, fill: (UnsafeMutableRawPointer) -> Void) -> amqp_bytes_t {
        guard count > 0 else { return amqp_bytes_t(len: 0, bytes: nil) }
        let p = malloc(count)!
        allocations.append(p)
        fill(p)
        return amqp_bytes_t(len: count, bytes: p)
    }

    func table(_ dict: [String: AMQPValue]) -> amqp_table_t {
        guard !dict.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let raw = malloc(MemoryLayout<amqp_table_entry_t>.stride * dict.count)!
        allocations.append(raw)
        let entries = raw.bindMemory(to: amqp_table_entry_t.self, capacity: dict.count)
        for (i, (key, value)) in dict.sorted(by: { $0.key < $1.key }).enumerated() {
            entries[i] = amqp_table_entry_t(key: bytes(key), value: field(value))
        }
        return amqp_table_t(num_entries: Int32(dict.count), entries: entries)
    }

    func field(_ value: AMQPValue) -> amqp_field_value_t {
        var f = amqp_field_value_t()
        switch value {
        case .string(let s):
            f.kind = kind(AMQP_FIELD_KIND_UTF8)
            f.value.bytes = bytes(s)
        case .int(let i):
            f.kind = kind(AMQP_FIELD_KIND_I64)
            f.value.i64 = i
        case .bool(let b):
            f.kind = kind(AMQP_FIELD_KIND_BOOLEAN)
            f.value.boolean = b ? 1 : 0
        case .double(let d):
            f.kind = kind(AMQP_FIELD_KIND_F64)
            f.value.f64 = d
        case .bytes(let d):
            f.kind = kind(AMQP_FIELD_KIND_BYTES)
            f.value.bytes = bytes(d)
        case .timestamp(let t):
            f.kind = kind(AMQP_FIELD_KIND_TIMESTAMP)
            f.value.u64 = t
        case .table(let t):
            f.kind = kind(AMQP_FIELD_KIND_TABLE)
            f.value.table = table(t)
        case .array(let items):
            f.kind = kind(AMQP_FIELD_KIND_ARRAY)
            if items.isEmpty {
                f.value.array = amqp_array_t(num_entries: 0, entries: nil)
            } else {
                let raw = malloc(MemoryLayout<amqp_field_value_t>.stride * items.count)!
                allocations.append(raw)
                let entries = raw.bindMemory(to: amqp_field_value_t.self, capacity: items.count)
                for (i, item) in items.enumerated() { entries[i] = field(item) }
                f.value.array = amqp_array_t(num_entries: Int32(items.count), entries: entries)
            }
        case .void, .unsupported:
            f.kind = kind(AMQP_FIELD_KIND_VOID)
        }
        return f
    }

    func properties(_ p: MessageProperties) -> amqp_basic_properties_t {
        var c = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if let v = p.contentType { c.content_type = bytes(v); flags |= CRabbitMQShims_basic_flag_content_type() }
        if let v = p.contentEncoding {
            c.content_encoding = bytes(v); flags |= CRabbitMQShims_basic_flag_content_encoding()
        }
        if !p.headers.isEmpty { c.headers = table(p.headers); flags |= CRabbitMQShims_basic_flag_headers() }
        c.delivery_mode = p.persistent ? 2 : 1
        flags |= CRabbitMQShims_basic_flag_delivery_mode()
        if let v = p.priority { c.priority = v; flags |= CRabbitMQShims_basic_flag_priority() }
        if let v = p.correlationID { c.correlation_id = bytes(v); flags |= CRabbitMQShims_basic_flag_correlation_id() }
        if let v = p.replyTo { c.reply_to = bytes(v); flags |= CRabbitMQShims_basic_flag_reply_to() }
        if let v = p.expiration { c.expiration = bytes(v); flags |= CRabbitMQShims_basic_flag_expiration() }
        if let v = p.messageID { c.message_id = bytes(v); flags |= CRabbitMQShims_basic_flag_message_id() }
        if let v = p.timestamp { c.timestamp = v; flags |= CRabbitMQShims_basic_flag_timestamp() }
        if let v = p.type { c.type = bytes(v); flags |= CRabbitMQShims_basic_flag_type() }
        if let v = p.userID { c.user_id = bytes(v); flags |= CRabbitMQShims_basic_flag_user_id() }
        if let v = p.appID { c.app_id = bytes(v); flags |= CRabbitMQShims_basic_flag_app_id() }
        c._flags = flags
        return c
    }
}

@inline(__always)
func kind(_ k: amqp_field_value_kind_t) -> UInt8 { UInt8(truncatingIfNeeded: k.rawValue) }

extension amqp_bytes_t {
    var data: Data {
        guard len > 0, let bytes else { return Data() }
        return Data(bytes: bytes, count: len)
    }
    var string: String {
        guard len > 0, let bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: len), as: UTF8.self)
    }
}

enum CDecode {
    static func table(_ t: amqp_table_t) -> [String: AMQPValue] {
        var out: [String: AMQPValue] = [:]
        guard t.num_entries > 0, let entries = t.entries else { return out }
        for i in 0..<Int(t.num_entries) {
            out[entries[i].key.string] = field(entries[i].value)
        }
        return out
    }

    static func field(_ f: amqp_field_value_t) -> AMQPValue {
        switch UInt32(f.kind) {
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: return .bool(f.value.boolean != 0)
        case AMQP_FIELD_KIND_I8.rawValue: return .int(Int64(f.value.i8))
        case AMQP_FIELD_KIND_U8.rawValue: return .int(Int64(f.value.u8))
        case AMQP_FIELD_KIND_I16.rawValue: return .int(Int64(f.value.i16))
        case AMQP_FIELD_KIND_U16.rawValue: return .int(Int64(f.value.u16))
        case AMQP_FIELD_KIND_I32.rawValue: return .int(Int64(f.value.i32))
        case AMQP_FIELD_KIND_U32.rawValue: return .int(Int64(f.value.u32))
        case AMQP_FIELD_KIND_I64.rawValue: return .int(f.value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: return .int(Int64(clamping: f.value.u64))
        case AMQP_FIELD_KIND_F32.rawValue: return .double(Double(f.value.f32))
        case AMQP_FIELD_KIND_F64.rawValue: return .double(f.value.f64)
        case AMQP_FIELD_KIND_UTF8.rawValue: return .string(f.value.bytes.string)
        case AMQP_FIELD_KIND_BYTES.rawValue: return .bytes(f.value.bytes.data)
        case AMQP_FIELD_KIND_TIMESTAMP.rawValue: return .timestamp(f.value.u64)
        case AMQP_FIELD_KIND_TABLE.rawValue: return .table(table(f.value.table))
        case AMQP_FIELD_KIND_VOID.rawValue: return .void
        case AMQP_FIELD_KIND_ARRAY.rawValue:
            var items: [AMQPValue] = []
            if f.value.array.num_entries > 0, let entries = f.value.array.entries {
                for i in 0..<Int(f.value.array.num_entries) { items.append(field(entries[i])) }
            }
            return .array(items)
        default: return .unsupported(kind: f.kind)
        }
    }

    static func properties(_ c: amqp_basic_properties_t) -> MessageProperties {
        let f = c._flags
        func has(_ flag: UInt32) -> Bool { f & flag != 0 }
        var p = MessageProperties(persistent: false)
        if has(CRabbitMQShims_basic_flag_content_type()) { p.contentType = c.content_type.string }
        if has(CRabbitMQShims_basic_flag_content_encoding()) { p.contentEncoding = c.content_encoding.string }
        if has(CRabbitMQShims_basic_flag_headers()) { p.headers = table(c.headers) }
        if has(CRabbitMQShims_basic_flag_delivery_mode()) { p.persistent = c.delivery_mode == 2 }
        if has(CRabbitMQShims_basic_flag_priority()) { p.priority = c.priority }
        if has(CRabbitMQShims_basic_flag_correlation_id()) { p.correlationID = c.correlation_id.string }
        if has(CRabbitMQShims_basic_flag_reply_to()) { p.replyTo = c.reply_to.string }
        if has(CRabbitMQShims_basic_flag_expiration()) { p.expiration = c.expiration.string }
        if has(CRabbitMQShims_basic_flag_message_id()) { p.messageID = c.message_id.string }
        if has(CRabbitMQShims_basic_flag_timestamp()) { p.timestamp = c.timestamp }
        if has(CRabbitMQShims_basic_flag_type()) { p.type = c.type.string }
        if has(CRabbitMQShims_basic_flag_user_id()) { p.userID = c.user_id.string }
        if has(CRabbitMQShims_basic_flag_app_id()) { p.appID = c.app_id.string }
        return p
    }
}

/// AMQP method numbers (class << 16 | method). rabbitmq-c defines them as casted macros,
/// which Swift does not import.
enum Method {
    static let connectionClose: UInt32 = 0x000A_0032
    static let connectionCloseOk: UInt32 = 0x000A_0033
    static let connectionBlocked: UInt32 = 0x000A_003C
    static let connectionUnblocked: UInt32 = 0x000A_003D
    static let channelClose: UInt32 = 0x0014_0028
    static let channelCloseOk: UInt32 = 0x0014_0029
    static let basicCancel: UInt32 = 0x003C_001E
    static let basicCancelOk: UInt32 = 0x003C_001F
    static let basicReturn: UInt32 = 0x003C_0032
    static let basicDeliver: UInt32 = 0x003C_003C
    static let basicAck: UInt32 = 0x003C_0050
    static let basicNack: UInt32 = 0x003C_0078
}

enum FrameType {
    static let method: UInt8 = 1
    static let header: UInt8 = 2
    static let body: UInt8 = 3
    static let heartbeat: UInt8 = 8
}

func libraryErrorString(_ status: Int32) -> String {
    guard let s = amqp_error_string2(status) else { return "status \(status)" }
    return String(cString: s)
}

extension timeval {
    init(_ d: Duration) {
        let c = d.components
        self.init(tv_sec: Int(c.seconds), tv_usec: Int(c.attoseconds / 1_000_000_000_000))
    }
}
