extension JSONWriter {
    /// `value` as indented JSON text: two spaces per level, one member or element per line,
    /// `": "` after keys, empty arrays and objects as `[]` and `{}` (the layout of Python's
    /// `json.dumps(indent=2)`). For documents people read, such as the job spec's JSON Schema.
    public static func pretty(_ value: JSONValue) -> String {
        var out = ""
        appendPretty(value, indent: "", to: &out)
        return out
    }

    static func appendPretty(_ value: JSONValue, indent: String, to out: inout String) {
        let inner = indent + "  "
        switch value {
        case let .array(items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                appendPretty(item, indent: inner, to: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        case let .object(o) where !o.isEmpty:
            out += "{\n"
            for (i, member) in o.members.enumerated() {
                out += inner
                appendString(member.key, to: &out)
                out += ": "
                appendPretty(member.value, indent: inner, to: &out)
                out += i == o.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        default:
            out += value.serialized()
        }
    }
}
