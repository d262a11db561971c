import JSON

/// The JSON Schema forms of the vocabulary: the lists of names and the option objects that
/// ``JobSpecSchema`` takes from the table.
extension Vocabulary {
    /// Every place of the schema whose content is a list of the vocabulary's words.
    static var schemaParts: [(path: [JSONPath], value: JSONValue)] {
        let temperatureAliases = aliases.filter { if case .straightThroughAtTemperatureArgument = $0.implies { true } else { false } }
        var parts: [(path: [JSONPath], value: JSONValue)] = [
            (["$defs", "Distribution", "enum"], strings(distributions + aliases.map(\.name))),
            (["$defs", "StraightThroughTemperature", "if", "properties", "dist", "enum"], strings(temperatureAliases.map(\.name))),
            (["$defs", "ModelSampleStatement", "allOf", 1, "then", "properties", "dist", "not", "enum"], strings(aliases.map(\.name))),
            (["$defs", "Constraint", "oneOf", 0, "enum"], strings(paramConstraints.map(\.name))),
            (["$defs", "AutoGuide", "properties", "auto", "enum"], strings(autoguides.map(\.rawValue))),
            (["$defs", "Estimator"], estimatorSchema),
            (["$defs", "Inference", "properties", "elbo", "enum"], strings(elbos.map(\.rawValue))),
            (["$defs", "Inference", "properties", "entropy", "enum"], strings(entropies.map(\.name))),
            (["$defs", "Optimizer"], optimizerSchema),
        ]
        // Options shared by several words are one definition each.
        var named: [String] = []
        for option in optimizers.flatMap(\.options) + estimators.flatMap(\.options) {
            guard let name = option.schemaName, !named.contains(name) else { continue }
            named.append(name)
            parts.append((["$defs", .key(name)], option.kind.schema))
        }
        return parts
    }

    static func strings(_ names: [String]) -> JSONValue { .array(names.map(JSONValue.string)) }

    /// `"estimator"`: a name (the words that need no option) or an object with a name and its
    /// word's options.
    static var estimatorSchema: JSONValue {
        let needing = estimators.filter { $0.options.contains { $0.defaultValue == nil } }
        let needed = needing.flatMap { $0.options.filter { $0.defaultValue == nil }.map(\.name) }
        let bare = estimators.filter { word in !needing.contains { $0.name == word.name } }
        return .object([
            "description": .string("How a guide site's gradient is estimated: a name, or an object with a name and its options."),
            "oneOf": .array([
                .object([
                    "type": .string("string"),
                    "description": .string("\(conjunction(needing.map(\.name))) need a \(conjunction(Array(Set(needed)).sorted())), so only the object form names them."),
                    "enum": strings(bare.map(\.name)),
                ]),
                .object([
                    "type": .string("object"),
                    "required": strings(["name"]),
                    "properties": .object(["name": .object(["type": .string("string"), "enum": strings(estimators.map(\.name))])]),
                    "oneOf": .array(wordSchemas(estimators.map { ($0.name, $0.options, nil) })),
                ]),
            ]),
        ])
    }

    /// `inference.optimizer`: an object with a name and its word's options.
    static var optimizerSchema: JSONValue {
        .object([
            "type": .string("object"),
            "required": strings(["name"]),
            "properties": .object(["name": .object(["type": .string("string"), "enum": strings(optimizers.map(\.name))])]),
            "oneOf": .array(wordSchemas(optimizers.map { ($0.name, $0.options, $0.schemaRule) })),
        ])
    }

    /// One schema per group of words that take the same options (and no rule across them):
    /// `name` is the group's names, each option its form, nothing else allowed.
    static func wordSchemas(_ words: [(name: String, options: [VocabularyOption], rule: JSONObject?)]) -> [JSONValue] {
        var groups: [(names: [String], options: [VocabularyOption], rule: JSONObject?)] = []
        for word in words {
            if word.rule == nil, let i = groups.firstIndex(where: { $0.rule == nil && $0.options == word.options }) {
                groups[i].names.append(word.name)
            } else {
                groups.append(([word.name], word.options, word.rule))
            }
        }
        return groups.map { group in
            var o = JSONObject()
            let required = group.options.filter { $0.defaultValue == nil }.map(\.name)
            if !required.isEmpty { o["required"] = strings(required) }
            var properties: JSONObject = ["name": group.names.count == 1 ? .object(["const": .string(group.names[0])]) : .object(["enum": strings(group.names)])]
            for option in group.options {
                properties[option.name] = option.schemaName.map { .object(["$ref": .string("#/$defs/\($0)")]) } ?? option.kind.schema
            }
            o["properties"] = .object(properties)
            o["additionalProperties"] = .bool(false)
            for member in group.rule?.members ?? [] { o[member.key] = member.value }
            return .object(o)
        }
    }
}

extension VocabularyOption.Kind {
    /// The option's form as a JSON Schema.
    var schema: JSONValue {
        func number(_ range: ClosedRange<Double>, exclusive: Bool) -> JSONObject {
            ["type": .string("number"), exclusive ? "exclusiveMinimum" : "minimum": .number(range.lowerBound), "maximum": .number(range.upperBound)]
        }
        switch self {
        case let .integer(range):
            return .object(["type": .string("integer"), "minimum": .number(Double(range.lowerBound)), "maximum": .number(Double(range.upperBound))])
        case let .number(range, exclusive):
            return .object(number(range, exclusive: exclusive))
        case .boolean:
            return .object(["type": .string("boolean")])
        case let .pair(range, _, _):
            return .object(["type": .string("array"), "minItems": .number(2), "maxItems": .number(2), "items": .object(number(range, exclusive: false))])
        case .baseline:
            return .object(["$ref": .string("#/$defs/Baseline")])
        }
    }
}

/// One step of a path into a JSON document: a member's key or an element's index.
enum JSONPath: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case key(String), index(Int)
    init(stringLiteral key: String) { self = .key(key) }
    init(integerLiteral index: Int) { self = .index(index) }
}

extension JSONValue {
    /// Replaces the value at `path`, which must exist (a schema's template names every place
    /// the vocabulary fills).
    mutating func replace(at path: ArraySlice<JSONPath>, with new: JSONValue) {
        guard let step = path.first else { self = new; return }
        switch (self, step) {
        case (.object(var o), let .key(k)):
            guard var child = o[k] else { preconditionFailure("the schema template has no '\(k)'") }
            child.replace(at: path.dropFirst(), with: new)
            o[k] = child
            self = .object(o)
        case (.array(var a), let .index(i)) where a.indices.contains(i):
            a[i].replace(at: path.dropFirst(), with: new)
            self = .array(a)
        default:
            preconditionFailure("the schema template has no \(step) here")
        }
    }
}
