import Distributions
import Foundation
import Inference
import JSON
import Testing
@testable import ModelSpec

/// The vocabulary table is the one list of the language's words: the decoder reads every word
/// it has (and refuses others with the table's list), labels invert the builders, and the
/// lists on docs/job-spec.md are exactly the table's (in the order the page finds clearest).
@Suite struct VocabularyTests {
    /// The object form of a word with every required option at its example value.
    static func objectForm(_ name: String, _ options: [VocabularyOption]) throws -> JSONValue {
        var o: JSONObject = ["name": .string(name)]
        for option in options where option.defaultValue == nil {
            o[option.name] = try JSONParser.parse(option.example ?? "0.1")
        }
        return .object(o)
    }

    @Test func everyEstimatorWordDecodesAndItsLabelIsItsName() throws {
        for word in Vocabulary.estimators {
            let d = Diagnostics()
            let spec = Reader(d).estimator(try Self.objectForm(word.name, word.options), JSONPointer())
            #expect(d.isEmpty, "\(word.name): \(d.all)")
            #expect(spec?.estimator.label == word.name)
            if word.options.allSatisfy({ $0.defaultValue != nil }) {
                #expect(Reader(Diagnostics()).estimator(.string(word.name), JSONPointer())?.estimator.label == word.name)
            }
        }
    }

    @Test func everyOptimizerWordDecodesWithItsDefaults() throws {
        for word in Vocabulary.optimizers {
            let d = Diagnostics()
            let config = Reader(d).optimizer(try Self.objectForm(word.name, word.options), JSONPointer())
            #expect(d.isEmpty && config != nil, "\(word.name): \(d.all)")
        }
        // The defaults are torch's.
        #expect(Reader(Diagnostics()).optimizer(.object(["name": .string("adam")]), JSONPointer()) == .adam(lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8))
        #expect(Reader(Diagnostics()).optimizer(.object(["name": .string("clipped_adam")]), JSONPointer())
                == .clippedAdam(lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, clipNorm: 10, lrDecay: 1))
        #expect(Reader(Diagnostics()).optimizer(.object(["name": .string("sgd"), "lr": .number(0.1)]), JSONPointer()) == .sgd(lr: 0.1, momentum: 0, nesterov: false))
    }

    @Test func anUnknownWordIsRefusedWithTheTablesList() {
        let d = Diagnostics()
        _ = Reader(d).estimator(.string("magic"), JSONPointer())
        _ = Reader(d).optimizer(.object(["name": .string("adamw")]), JSONPointer())
        #expect(d.all.map(\.message) == [
            "unknown estimator 'magic' (known: \(Vocabulary.estimators.map(\.name).joined(separator: ", ")))",
            "unknown optimizer 'adamw' (known: \(Vocabulary.optimizers.map(\.name).joined(separator: ", ")))",
        ])
    }

    @Test func everyAliasStandsForACatalogLaw() {
        for alias in Vocabulary.aliases {
            #expect(DistributionCatalog.entry(alias.law) != nil, "\(alias.name) → \(alias.law)")
            #expect(DistributionCatalog.entry(alias.name) == nil, "\(alias.name) is also a law")
        }
    }

    // MARK: docs/job-spec.md

    static let page = JobSpecDocTests.text

    /// The section of the page under `## title`.
    static func section(_ title: String) -> Substring {
        guard let start = page.range(of: "\n## \(title)\n") else { return "" }
        let rest = page[start.upperBound...]
        return rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)]
    }

    /// The rows of the table whose header line starts with `header`: each row's cells.
    static func table(_ section: Substring, header: String) -> [[String]] {
        let lines = section.split(separator: "\n", omittingEmptySubsequences: false).map { $0.drop { $0 == " " } }
        guard let h = lines.firstIndex(where: { $0.hasPrefix(header) }) else { return [] }
        return lines[(h + 2)...].prefix { $0.hasPrefix("|") }.map { line in
            line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }

    /// The first code span of a cell, without JSON quotes: "`\"normal\"`" → "normal".
    static func word(_ cell: String) -> String {
        let parts = cell.split(separator: "`", omittingEmptySubsequences: false)
        return parts.count > 1 ? String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) : ""
    }

    @Test func theDistributionTableListsTheCatalogWithItsArguments() {
        let rows = Self.table(Self.section("Distributions"), header: "| distribution |")
        #expect(rows.map { Self.word($0[0]) }.sorted() == Vocabulary.distributions.sorted())
        for row in rows {
            for p in DistributionCatalog.entry(Self.word(row[0]))?.parameters ?? [] {
                #expect(row[1].contains("`\(p.name)`"), "the row of \(row[0]) does not name '\(p.name)'")
            }
        }
        for alias in Vocabulary.aliases {
            #expect(Self.section("Distributions").contains("`\(alias.name)`"), "the page does not name the alias \(alias.name)")
        }
    }

    @Test func theEstimatorTableListsTheTableWithItsOptions() {
        let rows = Self.table(Self.section("Estimators"), header: "| estimator |")
        #expect(rows.map { Self.word($0[0]) }.sorted() == Vocabulary.estimators.map(\.name).sorted())
        for row in rows {
            guard let word = Vocabulary.estimator(named: Self.word(row[0])) else { continue }
            for option in word.options where option.kind.isWrittenInline {
                #expect(row[1].contains("\"\(option.name)\""), "the row of \(word.name) does not show '\(option.name)'")
            }
            if case let .laws(names, _) = word.fits { #expect(row[2] == names.joined(separator: ", "), "\(word.name) fits \(row[2])") }
        }
    }

    @Test func theParamConstraintTableListsTheTable() {
        let rows = Self.table(Self.section("Statements"), header: "| constraint |").map { Self.word($0[0]) }
        #expect(rows.filter { !$0.hasPrefix("{") } == Vocabulary.paramConstraints.map(\.name))
        #expect(rows.contains(#"{"interval": [a, b]}"#))
    }

    @Test func theELBOAutoguideAndOptimiserTablesListTheTable() {
        #expect(Self.table(Self.section("ELBOs"), header: "| elbo |").map { Self.word($0[0]) } == Vocabulary.elbos.map(\.rawValue))
        #expect(Self.table(Self.section("Autoguides"), header: "| `auto` |").map { Self.word($0[0]) } == Vocabulary.autoguides.map(\.rawValue))
        let settings = Self.table(Self.section("Inference settings"), header: "| key |")
        let elbo = settings.first { Self.word($0[0]) == "elbo" }, entropy = settings.first { Self.word($0[0]) == "entropy" }
        #expect(elbo?[2] == Vocabulary.elbos.map { "`\($0.rawValue)`" }.joined(separator: ", "))
        #expect(entropy?[2] == Vocabulary.entropies.map { "`\($0.name)`" }.joined(separator: ", "))
        let optimizers = Self.table(Self.section("Inference settings"), header: "| `name` |")
        #expect(optimizers.map { Self.word($0[0]) } == Vocabulary.optimizers.map(\.name))
        for (row, word) in zip(optimizers, Vocabulary.optimizers) {
            for option in word.options {
                #expect(row[1].contains("`\(option.name)`"), "the row of \(word.name) does not name '\(option.name)'")
                if option.defaultValue == nil { #expect(row[1].contains("`\(option.name)` (required)"), "\(word.name): '\(option.name)' is required") }
            }
        }
    }
}

extension VocabularyOption.Kind {
    /// Whether the estimator table shows the option in its "written" column (a baseline has its
    /// own table).
    var isWrittenInline: Bool { if case .baseline = self { false } else { true } }
}
