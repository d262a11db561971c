import Distributions
import JSON
import Numerics
import Inference

/// Reads a job spec from parsed JSON: checks the form of every part (known keys, types,
/// ranges), collecting every problem with its pointer; names, shapes and estimator fit are
/// checked later, when the spec is compiled.
public enum SpecDecoder {
    /// Decodes `json`, throwing every problem found.
    public static func decode(_ json: JSONValue) throws(SpecErrors) -> JobSpec {
        let diagnostics = Diagnostics()
        let spec = Reader(diagnostics).job(json, JSONPointer())
        try diagnostics.throwIfAny()
        return spec!
    }
}

/// The walk over the JSON tree; each method returns nil (after reporting) when its part is unusable.
struct Reader {
    let diagnostics: Diagnostics
    init(_ diagnostics: Diagnostics) { self.diagnostics = diagnostics }

    // MARK: Helpers

    func object(_ v: JSONValue, _ p: JSONPointer, _ what: String, allowed: [String], required: [String] = []) -> JSONObject? {
        guard case let .object(o) = v else {
            diagnostics.report(p, "\(what) must be an object, not \(v.typeName)"); return nil
        }
        for key in o.keys where !allowed.contains(key) {
            diagnostics.report(p.appending(key), "unknown key '\(key)' in \(what) (allowed: \(allowed.joined(separator: ", ")))")
        }
        for key in required where o[key] == nil {
            diagnostics.report(p, "\(what) needs '\(key)'")
        }
        return o
    }

    func string(_ v: JSONValue?, _ p: JSONPointer, _ what: String) -> String? {
        guard let v else { return nil }
        guard case let .string(s) = v else { diagnostics.report(p, "\(what) must be a string, not \(v.typeName)"); return nil }
        return s
    }

    func number(_ v: JSONValue?, _ p: JSONPointer, _ what: String, range: ClosedRange<Double>? = nil, open lower: Bool = false) -> Double? {
        guard let v else { return nil }
        guard case let .number(x) = v else { diagnostics.report(p, "\(what) must be a number, not \(v.typeName)"); return nil }
        if let range {
            let ok = lower ? (x > range.lowerBound && x <= range.upperBound) : range.contains(x)
            if !ok {
                let lo = lower ? "greater than \(format(range.lowerBound))" : "at least \(format(range.lowerBound))"
                diagnostics.report(p, "\(what) must be \(lo) and at most \(format(range.upperBound)), got \(format(x))"); return nil
            }
        }
        return x
    }

    func integer(_ v: JSONValue?, _ p: JSONPointer, _ what: String, range: ClosedRange<Int>) -> Int? {
        guard let x = number(v, p, what) else { return nil }
        guard let n = exactInt(x), range.contains(n) else {
            diagnostics.report(p, "\(what) must be an integer from \(range.lowerBound) to \(range.upperBound), got \(format(x))"); return nil
        }
        return n
    }

    func name(_ s: String, _ p: JSONPointer, _ what: String) -> Bool {
        // ASCII only, as the expression tokenizer reads names: a name it could not read is refused here.
        func letter(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_") }
        let ok = s.first.map(letter) == true && s.allSatisfy { letter($0) || ($0.isASCII && $0.isNumber) } && s.utf8.count <= 64
        if !ok { diagnostics.report(p, "\(what) '\(s.prefix(64))' must be an identifier (ASCII letters, digits, _; not starting with a digit; at most 64 characters)") }
        return ok
    }

    // MARK: Top level

    func job(_ v: JSONValue, _ p: JSONPointer) -> JobSpec? {
        let keys = ["name", "description", "data", "plates", "model", "guide", "estimators", "inference", "tags", "init_from", "transport"]
        guard let o = object(v, p, "the job", allowed: keys, required: ["model", "guide"]) else { return nil }
        let name = string(o["name"], p.appending("name"), "name") ?? "job"
        _ = string(o["description"], p.appending("description"), "description")
        let data = o["data"].map { dataBlock($0, p.appending("data")) } ?? []
        let plates = o["plates"].map { platesBlock($0, p.appending("plates")) } ?? []
        let model = o["model"].map { statements($0, p.appending("model"), inGuide: false) } ?? []
        let guide: GuideSpec = o["guide"].map { guideBlock($0, p.appending("guide")) } ?? .statements([])
        let estimators = o["estimators"].map { estimatorMap($0, p.appending("estimators")) } ?? []
        let inference = o["inference"].map { inferenceBlock($0, p.appending("inference")) } ?? InferenceSpec()
        var spec = JobSpec(name: name, data: data, plates: plates, model: model, guide: guide, estimators: estimators, inference: inference)
        spec.tags = o["tags"].map { tags($0, p.appending("tags")) } ?? []
        spec.initFrom = o["init_from"].flatMap { warmStart($0, p.appending("init_from")) }
        spec.transport = o["transport"].flatMap { transportBlock($0, p.appending("transport")) }
        return spec
    }

    /// At most 16 tags of 1 to 64 characters from letters, digits and `_ - . : /`, no repeats.
    func tags(_ v: JSONValue, _ p: JSONPointer) -> [String] {
        guard case let .array(a) = v else { diagnostics.report(p, "tags must be an array of strings, not \(v.typeName)"); return [] }
        if a.count > 16 { diagnostics.report(p, "at most 16 tags, got \(a.count)"); return [] }
        var out: [String] = []
        for (i, x) in a.enumerated() {
            guard let s = string(x, p.appending(i), "a tag") else { continue }
            let ok = !s.isEmpty && s.utf8.count <= 64 && s.unicodeScalars.allSatisfy { c in
                c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "_-.:/".unicodeScalars.contains(c))
            }
            guard ok else { diagnostics.report(p.appending(i), "a tag has 1 to 64 characters from letters, digits and _ - . : /"); continue }
            if out.contains(s) { diagnostics.report(p.appending(i), "the tag '\(s)' is repeated"); continue }
            out.append(s)
        }
        return out
    }

    /// `"init_from": "<job id>"`, or the resolved form the service stores:
    /// `{"job": "<id>", "params": {"name": value, …}}`.
    func warmStart(_ v: JSONValue, _ p: JSONPointer) -> WarmStartSpec? {
        switch v {
        case let .string(id):
            guard !id.isEmpty, id.unicodeScalars.count <= 64 else { diagnostics.report(p, "init_from must be a job id"); return nil }
            return .job(id, pointer: p)
        case .object:
            guard let o = object(v, p, "init_from", allowed: ["job", "params"], required: ["job", "params"]),
                  let id = string(o["job"], p.appending("job"), "job"), let paramsValue = o["params"] else { return nil }
            guard case let .object(paramsObject) = paramsValue else { diagnostics.report(p.appending("params"), "params must be an object of named values"); return nil }
            var params: [(name: String, value: Tensor, pointer: JSONPointer)] = []
            for (key, value) in paramsObject.members {
                let q = p.appending("params").appending(key)
                if let t = tensor(value, q, "init_from param '\(key)'") { params.append((key, t, q)) }
            }
            return .resolved(job: id, params: params, pointer: p)
        default:
            diagnostics.report(p, "init_from must be a job id, not \(v.typeName)"); return nil
        }
    }

    // MARK: Data

    func dataBlock(_ v: JSONValue, _ p: JSONPointer) -> [DataEntry] {
        guard case let .object(o) = v else { diagnostics.report(p, "data must be an object of named arrays, not \(v.typeName)"); return [] }
        var out: [DataEntry] = []
        for (key, value) in o.members {
            let q = p.appending(key)
            guard name(key, q, "data name") else { continue }
            if case let .object(entry) = value {
                // The declared form: {"value": [...], "plates": ["g", "i"]}.
                guard object(value, q, "data '\(key)'", allowed: ["value", "plates"], required: ["value"]) != nil,
                      let raw = entry["value"], let t = tensor(raw, q.appending("value"), "data '\(key)'") else { continue }
                let plates = entry["plates"].map { plateNames($0, q.appending("plates")) } ?? []
                out.append(DataEntry(name: key, value: t, plates: plates, pointer: q))
            } else if let t = tensor(value, q, "data '\(key)'") {
                out.append(DataEntry(name: key, value: t, pointer: q))
            }
        }
        return out
    }

    /// A number or a rectangular nested array of numbers.
    func tensor(_ v: JSONValue, _ p: JSONPointer, _ what: String) -> Tensor? {
        var shape: [Int] = []
        var probe = v
        while case let .array(a) = probe {
            shape.append(a.count)
            guard let first = a.first else { break }
            probe = first
        }
        guard shape.count <= 8 else { diagnostics.report(p, "\(what) has \(shape.count) axes; at most 8 are allowed"); return nil }
        var scalars: [Double] = []
        scalars.reserveCapacity(Shape.count(shape))
        var ok = true
        func walk(_ v: JSONValue, _ q: JSONPointer, _ depth: Int) {
            guard ok else { return }
            if depth == shape.count {
                guard case let .number(x) = v else {
                    diagnostics.report(q, "\(what) must hold only numbers, found \(v.typeName)"); ok = false; return
                }
                scalars.append(x); return
            }
            guard case let .array(a) = v else {
                diagnostics.report(q, "\(what) is ragged: expected an array of \(shape[depth]) here, found \(v.typeName)"); ok = false; return
            }
            guard a.count == shape[depth] else {
                diagnostics.report(q, "\(what) is ragged: this row has \(a.count) entries, the first row at this depth has \(shape[depth])"); ok = false; return
            }
            for (i, x) in a.enumerated() { walk(x, q.appending(i), depth + 1) }
        }
        walk(v, p, 0)
        return ok ? Tensor(shape: shape, scalars: scalars) : nil
    }

    func valueSpec(_ v: JSONValue, _ p: JSONPointer, _ what: String) -> ValueSpec? {
        if case let .string(s) = v {
            guard !s.allSatisfy({ $0 == " " || $0 == "\t" }) else { diagnostics.report(p, "\(what) is an empty expression"); return nil }
            return .expression(s)
        }
        return tensor(v, p, what).map(ValueSpec.constant)
    }

    // MARK: Plates

    func platesBlock(_ v: JSONValue, _ p: JSONPointer) -> [PlateSpec] {
        guard case let .object(o) = v else { diagnostics.report(p, "plates must be an object of named plates, not \(v.typeName)"); return [] }
        var out: [PlateSpec] = []
        for (key, value) in o.members {
            let q = p.appending(key)
            guard name(key, q, "plate name"), let plateFields = object(value, q, "plate '\(key)'", allowed: ["size", "subsample"], required: ["size"]),
                  let sizeValue = plateFields["size"] else { continue }
            let size: SizeSpec
            switch sizeValue {
            case .string(let s): size = .expression(s)
            default:
                guard let n = integer(sizeValue, q.appending("size"), "plate size", range: 1...100_000_000) else { continue }
                size = .count(n)
            }
            let sub = plateFields["subsample"].flatMap { integer($0, q.appending("subsample"), "subsample", range: 1...100_000_000) }
            out.append(PlateSpec(name: key, size: size, subsample: sub, pointer: q))
        }
        return out
    }

    // MARK: Statements

    func statements(_ v: JSONValue, _ p: JSONPointer, inGuide: Bool) -> [Statement] {
        guard case let .array(a) = v else { diagnostics.report(p, "\(inGuide ? "the guide" : "the model") must be an array of statements, not \(v.typeName)"); return [] }
        return a.enumerated().compactMap { statement($1, p.appending($0), inGuide: inGuide) }
    }

    func statement(_ v: JSONValue, _ p: JSONPointer, inGuide: Bool) -> Statement? {
        guard case let .object(o) = v else { diagnostics.report(p, "a statement must be an object, not \(v.typeName)"); return nil }
        if o["param"] != nil {
            guard let fields = object(v, p, "a param statement", allowed: ["param", "init", "constraint", "lr", "plates"], required: ["init"]),
                  let n = string(fields["param"], p.appending("param"), "param name"), name(n, p.appending("param"), "param name"),
                  let initValue = fields["init"], let initSpec = valueSpec(initValue, p.appending("init"), "init of '\(n)'") else { return nil }
            let c = fields["constraint"].flatMap { constraint($0, p.appending("constraint")) } ?? .real
            let lr = number(fields["lr"], p.appending("lr"), "lr", range: 0...1e6)
            let plates = fields["plates"].map { plateNames($0, p.appending("plates")) } ?? []
            return Statement(name: n, kind: .param(init: initSpec, constraint: c, learningRate: lr, plates: plates), pointer: p)
        }
        if o["let"] != nil {
            guard let fields = object(v, p, "a let statement", allowed: ["let", "value"], required: ["value"]),
                  let n = string(fields["let"], p.appending("let"), "let name"), name(n, p.appending("let"), "let name"),
                  let value = fields["value"], let vs = valueSpec(value, p.appending("value"), "value of '\(n)'") else { return nil }
            return Statement(name: n, kind: .let(vs), pointer: p)
        }
        if o["sample"] != nil {
            let allowed = ["sample", "dist", "args", "plates", "event_dims", "estimator"] + (inGuide ? [] : ["obs"])
            guard let fields = object(v, p, inGuide ? "a guide sample statement" : "a sample statement", allowed: allowed, required: ["dist"]),
                  let n = string(fields["sample"], p.appending("sample"), "site name"), name(n, p.appending("sample"), "site name"),
                  let distName = string(fields["dist"], p.appending("dist"), "dist") else { return nil }
            let alias = Vocabulary.alias(named: distName)
            let canonical = alias?.law ?? distName
            guard DistributionCatalog.entry(canonical) != nil else {
                let known = Vocabulary.distributions + Vocabulary.aliases.map(\.name).sorted()
                diagnostics.report(p.appending("dist"), "unknown distribution '\(distName)' (known: \(known.joined(separator: ", ")))")
                return nil
            }
            var args: [(String, ValueSpec, JSONPointer)] = []
            var temperature: Double?
            if let argsValue = fields["args"] {
                if case let .object(argsObject) = argsValue {
                    for (key, value) in argsObject.members {
                        let q = p.appending("args").appending(key)
                        if let vs = valueSpec(value, q, "argument '\(key)'") {
                            args.append((key, vs, q))
                            if key == "temperature", case let .constant(t) = vs, t.count == 1 { temperature = t.scalar }
                        }
                    }
                } else { diagnostics.report(p.appending("args"), "args must be an object of named arguments, not \(argsValue.typeName)") }
            }
            let plates = fields["plates"].map { plateNames($0, p.appending("plates")) } ?? []
            let eventDims = fields["event_dims"].flatMap { integer($0, p.appending("event_dims"), "event_dims", range: 0...8) } ?? 0
            let est = fields["estimator"].flatMap { estimator($0, p.appending("estimator")) }
            let obs = fields["obs"].flatMap { valueSpec($0, p.appending("obs"), "obs of '\(n)'") }
            if obs != nil && inGuide { diagnostics.report(p.appending("obs"), "a guide site cannot be observed") }
            var implied: EstimatorSpec?
            switch alias?.implies {
            case let .estimator(e)?: implied = EstimatorSpec(estimator: e, pointer: p.appending("dist"))
            case .straightThroughAtTemperatureArgument?:
                guard let t = temperature else {
                    diagnostics.report(p.appending("args"), "\(distName) needs a constant 'temperature' argument"); return nil
                }
                implied = EstimatorSpec(estimator: .straightThrough(temperature: t), pointer: p.appending("dist"))
                args.removeAll { $0.0 == "temperature" }
            case nil: break
            }
            if obs != nil, implied != nil { diagnostics.report(p.appending("dist"), "\(distName) is a guide distribution; an observed site uses \(canonical)") }
            return Statement(name: n, kind: .sample(SampleSpec(distribution: canonical, aliasEstimator: implied, args: args.map { (name: $0.0, value: $0.1, pointer: $0.2) },
                                                               plates: plates, eventDims: eventDims, estimator: est, observed: obs)), pointer: p)
        }
        let keys = o.keys.joined(separator: ", ")
        diagnostics.report(p, "a statement needs one of 'param', 'let' or 'sample' (found keys: \(keys.isEmpty ? "none" : keys))")
        return nil
    }

    /// A `plates` list: an array of plate names (checked against the declared plates later).
    func plateNames(_ v: JSONValue, _ p: JSONPointer) -> [String] {
        guard case let .array(a) = v else {
            diagnostics.report(p, "plates must be an array of plate names, not \(v.typeName)"); return []
        }
        return a.enumerated().compactMap { i, x in string(x, p.appending(i), "plate name") }
    }

    func constraint(_ v: JSONValue, _ p: JSONPointer) -> ConstraintSpec? {
        switch v {
        case let .string(s):
            if let named = Vocabulary.paramConstraints.first(where: { $0.name == s }) { return named }
            let known = Vocabulary.paramConstraints.map(\.name) + [#"{"interval": [a, b]}"#]
            diagnostics.report(p, "unknown constraint '\(s)' (known: \(known.joined(separator: ", ")))")
            return nil
        case let .object(o):
            guard let io = object(v, p, "a constraint", allowed: ["interval"], required: ["interval"]), let iv = io["interval"] else { return nil }
            guard case let .array(a) = iv, a.count == 2, case let .number(lo) = a[0], case let .number(hi) = a[1] else {
                diagnostics.report(p.appending("interval"), "interval must be [lower, upper]"); return nil
            }
            guard lo < hi else { diagnostics.report(p.appending("interval"), "interval needs lower < upper, got [\(format(lo)), \(format(hi))]"); return nil }
            _ = o
            return .interval(lo, hi)
        default:
            diagnostics.report(p, "constraint must be a name or {\"interval\": [a, b]}, not \(v.typeName)"); return nil
        }
    }

    // MARK: Guide and estimators

    func guideBlock(_ v: JSONValue, _ p: JSONPointer) -> GuideSpec {
        if case .array = v { return .statements(statements(v, p, inGuide: true)) }
        guard let o = object(v, p, "an autoguide", allowed: ["auto", "init_scale", "estimator"], required: ["auto"]) else { return .statements([]) }
        guard let fam = string(o["auto"], p.appending("auto"), "auto") else { return .statements([]) }
        guard let family = Vocabulary.autoguides.first(where: { $0.rawValue == fam }) else {
            diagnostics.report(p.appending("auto"), "unknown autoguide '\(fam)' (known: \(Vocabulary.autoguides.map(\.rawValue).joined(separator: ", ")))"); return .statements([])
        }
        let scale = number(o["init_scale"], p.appending("init_scale"), "init_scale", range: 0...1e6, open: true) ?? 0.1
        let est = o["estimator"].flatMap { estimator($0, p.appending("estimator")) }
        return .auto(AutoGuideSpec(family: family, initScale: scale, estimator: est, pointer: p))
    }

    func estimatorMap(_ v: JSONValue, _ p: JSONPointer) -> [(site: String, estimator: EstimatorSpec, pointer: JSONPointer)] {
        guard case let .object(o) = v else { diagnostics.report(p, "estimators must be an object from site name to estimator, not \(v.typeName)"); return [] }
        return o.members.compactMap { key, value in
            estimator(value, p.appending(key)).map { (site: key, estimator: $0, pointer: p.appending(key)) }
        }
    }

    func baselineSpec(_ v: JSONValue, _ p: JSONPointer) -> Baseline? {
        switch v {
        case let .string(s):
            switch s {
            case "none": return Baseline.none
            case "loo": return .leaveOneOut
            case "decaying_avg": return .decayingAverage(beta: 0.9)
            default:
                diagnostics.report(p, "unknown baseline '\(s)' (known: none, loo, decaying_avg, {\"decaying_avg\": β}, {\"learned\": {\"inputs\": [...], \"hidden\": 0}})")
                return nil
            }
        case let .object(o):
            guard let bo = object(v, p, "a baseline", allowed: ["decaying_avg", "learned"]), o.members.count == 1 else {
                if o.members.count != 1 { diagnostics.report(p, "a baseline object has exactly one key: decaying_avg or learned") }
                return nil
            }
            if let b = bo["decaying_avg"] {
                return number(b, p.appending("decaying_avg"), "decaying_avg β", range: 0...0.999999).map { .decayingAverage(beta: $0) }
            }
            if let l = bo["learned"], let lo = object(l, p.appending("learned"), "a learned baseline", allowed: ["inputs", "hidden"], required: ["inputs"]) {
                var inputs: [String] = []
                if case let .array(a)? = lo["inputs"] {
                    for (i, x) in a.enumerated() { if let s = string(x, p.appending("learned").appending("inputs").appending(i), "input name") { inputs.append(s) } }
                } else { diagnostics.report(p.appending("learned").appending("inputs"), "inputs must be an array of data or let names") }
                let hidden = lo["hidden"].flatMap { integer($0, p.appending("learned").appending("hidden"), "hidden", range: 0...256) } ?? 0
                return .learned(inputs: inputs, hidden: hidden)
            }
            return nil
        default:
            diagnostics.report(p, "a baseline must be a name or an object, not \(v.typeName)"); return nil
        }
    }

    // MARK: Inference

    func inferenceBlock(_ v: JSONValue, _ p: JSONPointer) -> InferenceSpec {
        var s = InferenceSpec()
        let keys = ["elbo", "steps", "particles", "seed", "optimizer", "report_every", "max_seconds", "entropy"]
        guard let o = object(v, p, "inference", allowed: keys) else { return s }
        if let e = string(o["elbo"], p.appending("elbo"), "elbo") {
            if let k = Vocabulary.elbos.first(where: { $0.rawValue == e }) { s.elbo = k } else {
                diagnostics.report(p.appending("elbo"), "unknown elbo '\(e)' (known: \(Vocabulary.elbos.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        if let n = o["steps"].flatMap({ integer($0, p.appending("steps"), "steps", range: 0...10_000_000) }) { s.steps = n }
        if let n = o["particles"].flatMap({ integer($0, p.appending("particles"), "particles", range: 1...4096) }) { s.particles = n }
        if let n = o["seed"].flatMap({ integer($0, p.appending("seed"), "seed", range: 0...Int(Int32.max)) }) { s.seed = UInt64(n) }
        if let n = o["report_every"].flatMap({ integer($0, p.appending("report_every"), "report_every", range: 1...10_000_000) }) { s.reportEvery = n }
        s.maxSeconds = number(o["max_seconds"], p.appending("max_seconds"), "max_seconds", range: 0...31_536_000, open: true)
        if let e = string(o["entropy"], p.appending("entropy"), "entropy") {
            if let mode = Vocabulary.entropies.first(where: { $0.name == e }) { s.analyticEntropy = mode.analytic } else {
                diagnostics.report(p.appending("entropy"), "unknown entropy '\(e)' (known: \(Vocabulary.entropies.map(\.name).joined(separator: ", ")))")
            }
        }
        if let ov = o["optimizer"], let opt = optimizer(ov, p.appending("optimizer")) { s.optimizer = opt }
        return s
    }
}

/// `x` as an Int when it is a finite integer of moderate size (|x| ≤ 2⁵³), else nil: the only
/// way the spec layer turns numbers into integers, so no input can trap a conversion.
func exactInt(_ x: Double) -> Int? {
    guard x.isFinite, x.rounded() == x, Swift.abs(x) <= 9_007_199_254_740_992 else { return nil }
    return Int(x)
}

/// A number as a user wrote it: integers without a fractional part.
func format(_ x: Double) -> String {
    if let n = exactInt(x), Swift.abs(n) < 1_000_000_000_000_000 { return String(n) }
    return "\(x)"
}
