import JSON
import Testing
@testable import ModelSpec

/// A guide whose draws leave the model site's support (issue 15 item 9): refused when the
/// spec is validated where both supports are known, failed at its first step otherwise —
/// naming both sites, the support and the offending value, suggesting a fitting guide.
@Suite struct SupportCheckTests {
    static func spec(prior: String, priorArgs: String, guide: String) -> String {
        """
        {"data": {"x": [0.5]},
         "model": [{"sample": "s", "dist": "\(prior)", "args": \(priorArgs)},
                   {"sample": "y", "dist": "Normal", "args": {"loc": 0, "scale": "s"}, "obs": "x"}],
         "guide": [{"param": "m", "init": -1.0}, \(guide)],
         "inference": {"steps": 20}}
        """
    }

    static let normalGuide = #"{"sample": "s", "dist": "Normal", "args": {"loc": "m", "scale": 0.1}}"#

    @Test(arguments: [("HalfNormal", #"{"scale": 1}"#, "nonnegative"), ("HalfCauchy", #"{"scale": 1}"#, "nonnegative"),
                      ("Exponential", #"{"rate": 1}"#, "nonnegative"), ("Gamma", #"{"concentration": 2, "rate": 1}"#, "nonnegative"),
                      ("Beta", #"{"concentration1": 2, "concentration0": 2}"#, "unit_interval"),
                      ("LogNormal", #"{"loc": 0, "scale": 1}"#, "positive")])
    func aRealGuideForAConstrainedSiteIsRefusedWhenValidated(prior: String, args: String, support: String) {
        let found = problems(Self.spec(prior: prior, priorArgs: args, guide: Self.normalGuide))
        #expect(found.count == 1 && found[0].pointer == "/model/0", "\(found)")
        let message = found.first?.message ?? ""
        #expect(message.contains("the guide's site 's' draws from Normal (support real)"), "\(message)")
        #expect(message.contains("the model's site 's' is \(prior) with support \(support)"), "\(message)")
        #expect(message.contains("autoguide"), "\(message)")
    }

    @Test func aGuideWithMatchingSupportIsAccepted() {
        let guide = #"{"sample": "s", "dist": "LogNormal", "args": {"loc": "m", "scale": 0.1}}"#
        #expect(problems(Self.spec(prior: "HalfNormal", priorArgs: #"{"scale": 1}"#, guide: guide)) == [])
        let auto = """
        {"data": {"x": [0.5]},
         "model": [{"sample": "s", "dist": "HalfCauchy", "args": {"scale": 1}},
                   {"sample": "y", "dist": "Normal", "args": {"loc": 0, "scale": "s"}, "obs": "x"}],
         "guide": {"auto": "normal"}}
        """
        #expect(problems(auto) == [])
    }

    /// Guides whose support is not known statically (a Delta, a Uniform with computed bounds)
    /// are checked on their draws: the job fails at step 0 with the value.
    @Test(arguments: [#"{"sample": "s", "dist": "Delta", "args": {"v": "m"}}"#,
                      #"{"sample": "s", "dist": "Uniform", "args": {"low": "m", "high": "m + 0.5"}}"#])
    func aDrawOutsideTheSupportFailsTheFirstStep(guide: String) throws {
        for (prior, args) in [("HalfNormal", #"{"scale": 1}"#), ("Gamma", #"{"concentration": 2, "rate": 1}"#), ("LogNormal", #"{"loc": 0, "scale": 1}"#)] {
            let job = try SpecCompiler.compile(try SpecDecoder.decode(try JSONParser.parse(Self.spec(prior: prior, priorArgs: args, guide: guide))))
            do {
                _ = try JobRun(job).run()
                Issue.record("\(prior) with \(guide) ran")
            } catch {
                let text = "\(error)"
                #expect(text.hasPrefix("failed at step 0: the guide's site 's'"), "\(text)")
                #expect(text.contains("outside the support of the model's site 's' (\(prior):"), "\(text)")
                #expect(text.contains("drew -"), "\(text)")
            }
        }
    }
}
