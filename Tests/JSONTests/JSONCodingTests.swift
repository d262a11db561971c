import Foundation
import Testing
import TestSupport
@testable import JSON

private struct Sample: Codable, Equatable {
    var name: String
    var values: [Double]
    var count: Int?
    var seed: UInt64
    var table: [String: [Int]]
    var choice: Choice
}

private enum Choice: Codable, Equatable { case plain, tagged(x: Int), named(String) }

@Suite struct JSONCodingTests {
    private let sample = Sample(name: "a/b \"q\"", values: [1, -0.0, 0.1, 1e20, 5e-324, 0.30000000000000004], count: nil,
                                seed: 12_345_678_901_234_567_890, table: ["b": [1], "a10": [2], "a9": [], "B": [3]], choice: .tagged(x: 3))

    @Test func membersAreSortedByTheirKeysBytesAndNilOptionalsLeftOut() throws {
        let text = try JSONValueEncoder().text(sample)
        #expect(text.hasPrefix(#"{"choice":{"tagged":{"x":3}},"name":"a/b \"q\"","seed":"12345678901234567890","table":{"B":[3],"a10":[2],"a9":[],"b":[1]},"values":[1,-0,0.1,1e+20,5e-324,0.30000000000000004]}"#),
                "\(text)")
    }

    @Test func aValueReadsBackEqual() throws {
        let text = try JSONValueEncoder().text(sample)
        #expect(try JSONValueDecoder().decode(Sample.self, from: Array(text.utf8)) == sample)
    }

    @Test func doublesRoundTripBitForBit() throws {
        var random = SplitMix64(seed: 7)
        var values = (0..<20_000).map { _ in Double(bitPattern: random.next()) }.filter(\.isFinite)
        values += [.leastNonzeroMagnitude, .greatestFiniteMagnitude, -.leastNormalMagnitude, 0x1p53, 0x1p53 + 2, -0.0, 1e16, 123456789.125]
        let text = try JSONValueEncoder().text(values)
        let back = try JSONValueDecoder().decode([Double].self, from: Array(text.utf8))
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func nonFiniteNumbersAreStrings() throws {
        let text = try JSONValueEncoder().text([Double.infinity, -.infinity, .nan])
        #expect(text == #"["Infinity","-Infinity","NaN"]"#)
        let back = try JSONValueDecoder().decode([Double].self, from: Array(text.utf8))
        #expect(back[0] == .infinity && back[1] == -.infinity && back[2].isNaN)
    }

    @Test func integersBeyondADoublesPrecisionAreWrittenAsDigitsAndReadBackExactly() throws {
        let values = [Int.max, Int.min, 1 << 53, (1 << 53) + 1, -(1 << 53) - 1]
        let text = try JSONValueEncoder().text(values)
        #expect(text == #"["9223372036854775807","-9223372036854775808",9007199254740992,"9007199254740993","-9007199254740993"]"#)
        #expect(try JSONValueDecoder().decode([Int].self, from: Array(text.utf8)) == values)
    }

    @Test func textFoundationsEncoderWroteReadsBackEqual() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        var small = sample
        small.seed = 42
        small.values.append(.infinity)
        let data = try encoder.encode(small)
        #expect(try JSONValueDecoder().decode(Sample.self, from: Array(data)) == small)
        // Apart from the escaped slash, the same text.
        #expect(String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\\/", with: "/") == (try JSONValueEncoder().text(small)))
    }

    @Test func aMissingMemberOrAWrongKindNamesItsPath() throws {
        #expect {
            try JSONValueDecoder().decode(Sample.self, from: Array(#"{"name":"x","values":[1,"two"]}"#.utf8))
        } throws: { error in
            guard case let DecodingError.typeMismatch(_, context) = error else { return false }
            return context.codingPath.map(\.stringValue) == ["values", "Index 1"]
        }
        #expect(throws: DecodingError.self) { try JSONValueDecoder().decode(Sample.self, from: Array(#"{"name":"x"}"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONValueDecoder().decode([Int].self, from: Array("[1.5]".utf8)) }
        #expect(throws: DecodingError.self) { try JSONValueDecoder().decode([UInt8].self, from: Array("[256]".utf8)) }
    }
}
