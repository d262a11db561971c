import JSON
import SpecFuzzing
import Foundation
@testable import ModelSpec

/// The Normal–Normal job of job-spec.md, the base that the invalid-spec table edits.
let baseSpec = """
{
  "name": "normal-normal",
  "data": { "x": [[-0.1, 0.3], [0.0, 0.4], [0.2, 0.5], [0.1, 0.7]] },
  "plates": { "d": {"size": "len(x)"}, "p": {"size": 2} },
  "guide": [
    {"param": "loc_q", "init": "zeros(2)"},
    {"param": "scale_q", "init": [1.0, 1.0], "constraint": "positive"},
    {"sample": "z", "dist": "Normal", "args": {"loc": "loc_q", "scale": "scale_q"}, "plates": ["p"]}
  ],
  "model": [
    {"sample": "z", "dist": "Normal", "args": {"loc": [0.0, 0.5], "scale": 3.1622776601683795}, "plates": ["p"]},
    {"sample": "obs", "dist": "Normal", "args": {"loc": "z", "scale": [0.408248290463863, 0.5]}, "plates": ["d", "p"], "obs": "x"}
  ],
  "inference": { "elbo": "tracegraph", "steps": 200, "particles": 2, "seed": 0,
                 "optimizer": {"name": "adam", "lr": 0.01} }
}
"""

/// Parses, decodes and compiles a spec text; the problems found, or [] when it compiles.
func problems(_ text: String) -> [SpecDiagnostic] {
    do {
        let json = try JSONParser.parse(text)
        _ = try SpecCompiler.compile(try SpecDecoder.decode(json))
        return []
    } catch let e as SpecErrors {
        return e.diagnostics
    } catch let e as JSONParseError {
        return [SpecDiagnostic(pointer: "", message: "malformed JSON: \(e)")]
    } catch {
        return [SpecDiagnostic(pointer: "", message: "\(error)")]
    }
}

/// `baseSpec` with the value at `pointer` replaced by the JSON text `replacement` (nil removes it).
func edited(_ pointer: String, _ replacement: String?) -> String {
    var doc = try! JSONParser.parse(baseSpec)
    let tokens = JSONPointer(parsing: pointer)!.tokens
    let value = replacement.map { try! JSONParser.parse($0) }
    doc = replace(doc, tokens[...], value)
    return doc.serialized()
}

