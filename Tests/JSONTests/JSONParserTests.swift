import Testing
@testable import JSON
import TestSupport

/// A document the parser must accept, and the value it must produce.
struct ValidCase: Sendable, CustomTestStringConvertible {
    let text: String
    let value: JSONValue
    var testDescription: String { text }
}

/// A document the parser must refuse, with the exact message and position.
struct InvalidCase: Sendable, CustomTestStringConvertible {
    let bytes: [UInt8]
    let message: String
    let line: Int
    let column: Int

    init(_ text: String, _ message: String, _ line: Int, _ column: Int) {
        self.init(bytes: Array(text.utf8), message, line, column)
    }

    init(bytes: [UInt8], _ message: String, _ line: Int, _ column: Int) {
        self.bytes = bytes
        self.message = message
        self.line = line
        self.column = column
    }

    var testDescription: String { String(decoding: bytes, as: UTF8.self) }
}

@Suite struct JSONParserTests {
    // MARK: - Valid documents

    static let validCases: [ValidCase] = [
        ValidCase(text: "null", value: .null),
        ValidCase(text: "true", value: true),
        ValidCase(text: "false", value: false),
        ValidCase(text: " \t\r\n 1 \n\r\t ", value: 1),
        ValidCase(text: "0", value: 0),
        ValidCase(text: "-0", value: .number(-0.0)),
        ValidCase(text: "-0.0e0", value: .number(-0.0)),
        ValidCase(text: "1E+2", value: 100),
        ValidCase(text: "1e2", value: 100),
        ValidCase(text: "1E-2", value: 0.01),
        ValidCase(text: "-12.5e1", value: -125),
        ValidCase(text: "0.1", value: 0.1),
        ValidCase(text: "0.3", value: 0.3),
        ValidCase(text: "1.5e-3", value: 0.0015),
        ValidCase(text: "1e-320", value: .number(Double(bitPattern: 2024))),
        ValidCase(text: "5e-324", value: .number(.leastNonzeroMagnitude)),
        ValidCase(text: "2.4703282292062327e-324", value: 0),
        ValidCase(text: "2.4703282292062328e-324", value: .number(.leastNonzeroMagnitude)),
        ValidCase(text: "2.2250738585072014e-308", value: .number(.leastNormalMagnitude)),
        ValidCase(text: "1e-400", value: 0),
        ValidCase(text: "-1e-400", value: .number(-0.0)),
        ValidCase(text: "1.7976931348623157e308", value: .number(.greatestFiniteMagnitude)),
        ValidCase(text: "1e23", value: 1e23),
        ValidCase(text: "100000000000000000000000", value: 1e23),
        ValidCase(text: "9007199254740992", value: 9_007_199_254_740_992),
        ValidCase(text: "9007199254740993", value: 9_007_199_254_740_992),
        ValidCase(text: "-9007199254740993", value: -9_007_199_254_740_992),
        ValidCase(text: "12345678901234567890", value: 12_345_678_901_234_567_890.0),
        ValidCase(text: "123456789012345678901234567890", value: 1.2345678901234568e29),
        ValidCase(text: "0.000000000000000000000000000001", value: 1e-30),
        ValidCase(text: "3.141592653589793238462643383279", value: .number(Double.pi)),
        ValidCase(text: #""""#, value: ""),
        ValidCase(text: #""a\"b\\c\/d\b\f\n\r\t""#, value: "a\"b\\c/d\u{8}\u{C}\n\r\t"),
        ValidCase(text: #""\u0041\u00e9\u20AC""#, value: "A\u{E9}\u{20AC}"),
        ValidCase(text: #""\uD83D\uDE00""#, value: "\u{1F600}"),
        ValidCase(text: #""\udbff\udfff""#, value: "\u{10FFFF}"),
        ValidCase(text: #""\u0000""#, value: "\u{0}"),
        ValidCase(text: "\"\u{E9}\u{1F600}\u{10FFFF}\"", value: "\u{E9}\u{1F600}\u{10FFFF}"),
        ValidCase(text: "\"\u{7F}\"", value: "\u{7F}"),
        ValidCase(text: "[]", value: []),
        ValidCase(text: "[ ]", value: []),
        ValidCase(text: "{}", value: [:]),
        ValidCase(text: "{ }", value: [:]),
        ValidCase(text: "[1,[2,[3,[]]],{}]", value: [1, [2, [3, []]], [:]]),
        ValidCase(text: #"{"b": 1, "a": [true, null], "c": {"d": "e"}}"#, value: ["b": 1, "a": [true, .null], "c": ["d": "e"]]),
        ValidCase(text: #"{"\u0061": 1}"#, value: ["a": 1]),
        ValidCase(text: #"{"": 0}"#, value: ["": 0]),
        ValidCase(text: #"{"\u00e9": 1, "e\u0301": 2}"#, value: ["\u{E9}": 1, "e\u{301}": 2]),
        ValidCase(text: "[\n  1,\r\n  2\t]", value: [1, 2]),
    ]

    @Test(arguments: validCases)
    func validDocumentParses(_ c: ValidCase) throws {
        let value = try JSONParser.parse(c.text)
        #expect(value == c.value)
        if case let .number(x) = c.value {
            #expect(value.asNumber?.bitPattern == x.bitPattern, "sign and bits of \(c.text)")
        }
        #expect(try JSONParser.parse(value.serialized()) == value)
        #expect(try JSONParser.parse(value.serialized()).serialized() == value.serialized())
    }

    @Test func objectsKeepMemberOrder() throws {
        let object = try #require(try JSONParser.parse(#"{"z": 1, "a": 2, "m": 3}"#).asObject)
        #expect(object.keys == ["z", "a", "m"])
        #expect(object["a"] == 2)
        #expect(object["q"] == nil)
        #expect(object != ["a": 2, "z": 1, "m": 3])
    }

    @Test func keysCompareByScalarsNotCanonicalEquivalence() throws {
        let object = try #require(try JSONParser.parse(#"{"\u00e9": 1, "e\u0301": 2}"#).asObject)
        #expect(object.count == 2)
        #expect(object["\u{E9}"] == 1)
        #expect(object["e\u{301}"] == 2)
        #expect(JSONValue.string("\u{E9}") != .string("e\u{301}"))
    }

    @Test func parsesBytesFromAnyCollection() throws {
        let bytes = Array(#"{"a": [1, 2.5, "x"]}"#.utf8)
        let expected: JSONValue = ["a": [1, 2.5, "x"]]
        #expect(try JSONParser.parse(bytes) == expected)
        #expect(try JSONParser.parse(bytes[...]) == expected)
        #expect(try JSONParser.parse(bytes.lazy.map { $0 }) == expected)
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes.dropLast().lazy.map { $0 }) }
        #expect(error?.message == "expected ',' or '}' after an object member, found end of input")
    }

    // MARK: - Invalid documents

    static let invalidCases: [InvalidCase] = [
        InvalidCase("", "expected a value, found end of input", 1, 1),
        InvalidCase("   ", "expected a value, found end of input", 1, 4),
        InvalidCase("[", "expected a value, found end of input", 1, 2),
        InvalidCase("]", "expected a value, found ']'", 1, 1),
        InvalidCase("[1,]", "trailing comma before ']'", 1, 3),
        InvalidCase(#"{"a":1,}"#, "trailing comma before '}'", 1, 7),
        InvalidCase("[1 2]", "expected ',' or ']' after an array element, found '2'", 1, 4),
        InvalidCase("[1:2]", "expected ',' or ']' after an array element, found ':'", 1, 3),
        InvalidCase("[1,2", "expected ',' or ']' after an array element, found end of input", 1, 5),
        InvalidCase(#"{"a" 1}"#, "expected ':' after an object key, found '1'", 1, 6),
        InvalidCase("{a:1}", "expected a string key or '}' after '{', found 'a'", 1, 2),
        InvalidCase(#"{"a":1 "b":2}"#, "expected ',' or '}' after an object member, found '\"'", 1, 8),
        InvalidCase(#"{"a":1,2}"#, "expected a string key after ',', found '2'", 1, 8),
        InvalidCase(#"{"a":1"#, "expected ',' or '}' after an object member, found end of input", 1, 7),
        InvalidCase(#"{"a":}"#, "expected a value, found '}'", 1, 6),
        InvalidCase("// comment\n1", "expected a value, found '/'", 1, 1),
        InvalidCase("[1] /* c */", "expected end of input after the top-level value, found '/'", 1, 5),
        InvalidCase("1 2", "expected end of input after the top-level value, found '2'", 1, 3),
        InvalidCase("[1,\n2]]", "expected end of input after the top-level value, found ']'", 2, 3),
        InvalidCase("['a']", "expected a value, found \"'\"", 1, 2),
        InvalidCase("NaN", "invalid literal 'NaN'; expected true, false or null", 1, 1),
        InvalidCase("[Infinity]", "invalid literal 'Infinity'; expected true, false or null", 1, 2),
        InvalidCase("-Infinity", "expected a digit after '-', found 'I'", 1, 2),
        InvalidCase("tru", "invalid literal 'tru'; expected true, false or null", 1, 1),
        InvalidCase("True", "invalid literal 'True'; expected true, false or null", 1, 1),
        InvalidCase("nullx", "invalid literal 'nullx'; expected true, false or null", 1, 1),
        InvalidCase("01", "leading zeros are not allowed", 1, 1),
        InvalidCase("[-01]", "leading zeros are not allowed", 1, 2),
        InvalidCase("1.", "expected a digit after the decimal point, found end of input", 1, 3),
        InvalidCase("1.e5", "expected a digit after the decimal point, found 'e'", 1, 3),
        InvalidCase(".5", "expected a value, found '.'", 1, 1),
        InvalidCase("+1", "expected a value, found '+'", 1, 1),
        InvalidCase("1e", "expected a digit in the exponent, found end of input", 1, 3),
        InvalidCase("1e+", "expected a digit in the exponent, found end of input", 1, 4),
        InvalidCase("1.5.3", "expected end of input after the top-level value, found '.'", 1, 4),
        InvalidCase("1e400", "number out of range", 1, 1),
        InvalidCase("[-1e309]", "number out of range", 1, 2),
        InvalidCase(#""abc"#, "unterminated string", 1, 1),
        InvalidCase(#"["abc\"]"#, "unterminated string", 1, 2),
        InvalidCase(#""\"#, "unterminated string", 1, 1),
        InvalidCase(#""\u00"#, "unterminated string", 1, 1),
        InvalidCase(#""a\x""#, "invalid escape '\\x'", 1, 3),
        InvalidCase("\"\\\u{E9}\"", "invalid escape: '\\' followed by U+00E9", 1, 2),
        InvalidCase(#""\u12G4""#, "invalid escape: '\\u' must be followed by four hex digits", 1, 2),
        InvalidCase(#""\uD800""#, "lone surrogate '\\uD800' in string", 1, 2),
        InvalidCase(#""\uDC00\uD800""#, "lone surrogate '\\uDC00' in string", 1, 2),
        InvalidCase(#""\uD800\u0041""#, "lone surrogate '\\uD800' in string", 1, 2),
        InvalidCase(#""x\ud83d x""#, "lone surrogate '\\ud83d' in string", 1, 3),
        InvalidCase("\"a\nb\"", "unescaped control character U+000A in string", 1, 3),
        InvalidCase("\"\t\"", "unescaped control character U+0009 in string", 1, 2),
        InvalidCase(bytes: [0x22, 0x00, 0x22], "unescaped control character U+0000 in string", 1, 2),
        InvalidCase(#"{"a":1,"a":2}"#, "duplicate key 'a'", 1, 8),
        InvalidCase(#"{"\u0061":1,"a":2}"#, "duplicate key 'a'", 1, 13),
        InvalidCase("{\n  \"a\": [1,\n    2,,\n  ]\n}", "expected a value, found ','", 3, 7),
        InvalidCase("[\"\u{E9}\", x]", "invalid literal 'x'; expected true, false or null", 1, 7),
        InvalidCase("[1,\r\n2\r\n", "expected ',' or ']' after an array element, found end of input", 3, 1),
        InvalidCase("[1,\u{C}2]", "expected a value, found control character U+000C", 1, 4),
        InvalidCase("[\u{A0}1]", "expected a value, found U+00A0", 1, 2),
        InvalidCase("[\u{E9}]", "expected a value, found U+00E9", 1, 2),
        InvalidCase(bytes: [0xEF, 0xBB, 0xBF, 0x31], "expected a value, found byte order mark U+FEFF", 1, 1),
        InvalidCase(bytes: [0x5B, 0xFF, 0x5D], "expected a value, found invalid UTF-8 byte 0xFF", 1, 2),
        InvalidCase(bytes: [0x22, 0xFF, 0x22], "invalid UTF-8 in string (byte 0xFF)", 1, 2),
        InvalidCase(bytes: [0x22, 0x80, 0x22], "invalid UTF-8 in string (byte 0x80)", 1, 2),
        InvalidCase(bytes: [0x22, 0xC0, 0xAF, 0x22], "invalid UTF-8 in string (byte 0xC0)", 1, 2),
        InvalidCase(bytes: [0x22, 0xE0, 0x80, 0xAF, 0x22], "invalid UTF-8 in string (byte 0xE0)", 1, 2),
        InvalidCase(bytes: [0x22, 0xED, 0xA0, 0x80, 0x22], "invalid UTF-8 in string (byte 0xED)", 1, 2),
        InvalidCase(bytes: [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], "invalid UTF-8 in string (byte 0xF4)", 1, 2),
        InvalidCase(bytes: [0x22, 0x61, 0xE2, 0x82, 0x22], "invalid UTF-8 in string (byte 0xE2)", 1, 3),
        InvalidCase(bytes: [0x22, 0x5C, 0x6E, 0xF0, 0x9F, 0x98], "invalid UTF-8 in string (byte 0xF0)", 1, 4),
    ]

    @Test(arguments: invalidCases)
    func invalidDocumentIsRefused(_ c: InvalidCase) {
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(c.bytes) }
        #expect(error?.message == c.message)
        #expect(error?.line == c.line)
        #expect(error?.column == c.column)
        #expect(error?.limit == nil)
    }

    @Test func errorDescriptionNamesThePosition() {
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse("[\n  1,\n  ]") }
        #expect(error?.offset == 5)
        #expect(error?.description == "line 2, column 4: trailing comma before ']'")
    }

    @Test func longLiteralsAndKeysAreAbbreviatedInMessages() {
        let word = String(repeating: "x", count: 100)
        let literal = #expect(throws: JSONParseError.self) { try JSONParser.parse(word) }
        #expect(literal?.message == "invalid literal '\(String(repeating: "x", count: 40))…'; expected true, false or null")
        let key = String(repeating: "k", count: 50)
        let duplicate = #expect(throws: JSONParseError.self) { try JSONParser.parse(#"{"\#(key)":1,"\#(key)":2}"#) }
        #expect(duplicate?.message == "duplicate key '\(String(repeating: "k", count: 40))…'")
    }

    // MARK: - Duplicate keys

    @Test func duplicateKeysAreRefusedAtEveryDepthAndSize() {
        let nested = #expect(throws: JSONParseError.self) { try JSONParser.parse(#"[{"x": {"k": 1, "j": 2, "k": 3}}]"#) }
        #expect(nested?.message == "duplicate key 'k'")
        #expect(nested?.column == 25)

        let members = (0..<20).map { #""m\#($0)": \#($0)"# }
        let large = "{" + members.joined(separator: ", ") + #", "m13": 0}"#
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(large) }
        #expect(error?.message == "duplicate key 'm13'")
        #expect(error?.offset == large.utf8.count - 9)

        let unique = try? JSONParser.parse("{" + members.joined(separator: ", ") + "}")
        #expect(unique?.asObject?.count == 20)
        #expect(unique?.asObject?["m17"] == 17)
        #expect(unique?.asObject?["m20"] == nil)
    }

    @Test func objectEditingKeepsOrderAndIndex() {
        var object = JSONObject()
        for i in 0..<12 { object["k\(i)"] = .number(Double(i)) }
        object["k3"] = "three"
        object["k5"] = nil
        #expect(object.count == 11)
        #expect(object.keys.prefix(5) == ["k0", "k1", "k2", "k3", "k4"])
        #expect(object["k3"] == "three")
        #expect(object["k5"] == nil)
        #expect(object["k11"] == 11)
        for i in 0..<8 { object["k\(i)"] = nil }
        #expect(object.keys == ["k8", "k9", "k10", "k11"])
        #expect(object["k9"] == 9)
    }

    // MARK: - Limits

    @Test func depthLimit() throws {
        let deepest = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try JSONParser.parse(deepest) }
        let tooDeep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(tooDeep) }
        #expect(error == JSONParseError(message: "nesting deeper than 64 levels", offset: 64, line: 1, column: 65, limit: .maxDepth))

        let objects = String(repeating: #"{"a":"#, count: 3) + "1" + String(repeating: "}", count: 3)
        let shallow = JSONLimits(maxDepth: 2)
        let objectError = #expect(throws: JSONParseError.self) { try JSONParser.parse(objects, limits: shallow) }
        #expect(objectError?.message == "nesting deeper than 2 levels")
        #expect(objectError?.offset == 10)

        let scalarAtDepthZero = try JSONParser.parse("7", limits: JSONLimits(maxDepth: 0))
        #expect(scalarAtDepthZero == 7)
    }

    @Test func hostileNestingNeitherCrashesNorRecursesDeeply() {
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
        let error = #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes) }
        #expect(error?.limit == .maxDepth)
        #expect(error?.offset == 64)

        let generous = JSONLimits(maxDepth: 2_000_000)
        let unclosed = #expect(throws: JSONParseError.self) { try JSONParser.parse(bytes, limits: generous) }
        #expect(unclosed?.message == "expected a value, found end of input")

        let deepButClosed = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONParser.parse(deepButClosed, limits: JSONLimits(maxDepth: 500)) }
    }

    @Test func sizeLimitsNameTheLimitAndItsValue() {
        func refusal(_ text: String, _ limits: JSONLimits) -> JSONParseError? {
            #expect(throws: JSONParseError.self) { try JSONParser.parse(text, limits: limits) }
        }
        func accepts(_ text: String, _ limits: JSONLimits) -> Bool {
            (try? JSONParser.parse(text, limits: limits)) != nil
        }

        let bytes = JSONLimits(maxBytes: 5)
        #expect(accepts("[1,2]", bytes))
        #expect(refusal("[1,22]", bytes) == JSONParseError(
            message: "document of 6 bytes is larger than 5 bytes", offset: 0, line: 1, column: 1, limit: .maxBytes))

        let strings = JSONLimits(maxStringBytes: 4)
        #expect(accepts(#""abcd""#, strings))
        #expect(accepts(#""\u00e9\u00e9""#, strings))
        #expect(accepts("\"\u{1F600}\"", strings))
        #expect(refusal(#"["abcde"]"#, strings) == JSONParseError(
            message: "string longer than 4 bytes", offset: 1, line: 1, column: 2, limit: .maxStringBytes))
        #expect(refusal(#""\u00e9\u00e9a""#, strings)?.limit == .maxStringBytes)
        #expect(refusal(#"{"abcde": 1}"#, strings)?.limit == .maxStringBytes)

        let arrays = JSONLimits(maxArrayLength: 3)
        #expect(accepts("[1,2,3]", arrays))
        #expect(refusal("[1,2,3,4]", arrays) == JSONParseError(
            message: "array longer than 3 elements", offset: 7, line: 1, column: 8, limit: .maxArrayLength))
        #expect(accepts("[]", JSONLimits(maxArrayLength: 0)))
        #expect(refusal("[[]]", JSONLimits(maxArrayLength: 0))?.offset == 1)

        let members = JSONLimits(maxMembers: 2)
        #expect(accepts(#"{"a":1,"b":2}"#, members))
        #expect(refusal(#"{"a":1,"b":2,"c":3}"#, members) == JSONParseError(
            message: "object with more than 2 members", offset: 13, line: 1, column: 14, limit: .maxMembers))

        let numbers = JSONLimits(maxNumberBytes: 5)
        #expect(accepts("12345", numbers))
        #expect(accepts("[-1e-3]", numbers))
        #expect(refusal("[1, -1.5e3]", numbers) == JSONParseError(
            message: "number longer than 5 characters", offset: 4, line: 1, column: 5, limit: .maxNumberBytes))

        #expect(JSONLimits.default[.maxDepth] == 64)
        #expect(JSONLimits.default[.maxBytes] == 16 * 1024 * 1024)
    }

    // MARK: - Serialisation

    @Test func serialisationIsCompactAndExact() {
        let value: JSONValue = [
            "n": [0, .number(-0.0), 100, 1.5, 0.1, 1e23, 9_007_199_254_740_992, 1e16, -3, .number(Double(bitPattern: 2024))],
            "s": "q\"b\\s/\u{1}\u{1F}\n\t\u{E9}",
            "e": [[:], [], .null, true, false],
        ]
        #expect(value.serialized() == #"{"n":[0,-0,100,1.5,0.1,1e+23,9007199254740992,1e+16,-3,1e-320],"#
            + #""s":"q\"b\\s/\u0001\u001f\n\t\#u{E9}","e":[{},[],null,true,false]}"#)
        #expect(value.description == value.serialized())
        #expect(JSONValue.number(.infinity).serialized() == "null")
        #expect(JSONValue.number(.nan).serialized() == "null")
        #expect(JSONWriter.numberText(123_456_789_012_345.0) == "123456789012345")
        #expect(JSONWriter.numberText(-0.000001) == "-1e-06")
    }

    @Test func stringsEscapeControlsAndLineSeparatorsAndKeepOtherScalars() throws {
        #expect(JSONWriter.quoted("a\u{1}\n\u{2028}é") == #""a\u0001\n\u2028é""#)
        #expect(JSONWriter.quoted("\u{8}\u{C}\r\t\u{1F}\u{2029}\u{7F}") == #""\b\f\r\t\u001f\u2029\#u{7F}""#)
        #expect(JSONWriter.quoted("plain/id-42") == #""plain/id-42""#)
        let awkward = "q\"\\\u{0}\u{2028}\u{2029}\u{1F600}"
        #expect(try JSONParser.parse(JSONWriter.quoted(awkward)) == .string(awkward))
    }

    @Test func floatTextAlwaysShowsAFloat() throws {
        #expect(JSONWriter.floatText(1) == "1.0")
        #expect(JSONWriter.floatText(-123.5) == "-123.5")
        #expect(JSONWriter.floatText(1e-5) == "1e-05")
        #expect(JSONWriter.floatText(.infinity) == "null")
        #expect(JSONWriter.floatText(.nan) == "null")
        for x in [1.0, -0.0, 0.1, 1e300, 5e-324] {
            #expect(try JSONParser.parse(JSONWriter.floatText(x)) == .number(x))
        }
    }

    @Test func accessorsAndTypeNames() {
        let values: [JSONValue] = [.null, true, 2, "s", [1], ["k": 1]]
        #expect(values.map(\.typeName) == ["null", "boolean", "number", "string", "array", "object"])
        #expect(values.map(\.isNull) == [true, false, false, false, false, false])
        #expect(values[1].asBool == true && values[0].asBool == nil)
        #expect(values[2].asNumber == 2 && values[3].asNumber == nil)
        #expect(values[3].asString == "s" && values[2].asString == nil)
        #expect(values[4].asArray == [1] && values[5].asArray == nil)
        #expect(values[5].asObject?["k"] == 1 && values[4].asObject == nil)
    }

    // MARK: - Numbers against Double(String)

    /// Random lexemes, many near the fast path's edges (15–19 digits, exponents around ±22)
    /// and the ends of the double range, must read exactly as `Double(String)` reads them.
    @Test func numbersMatchCorrectlyRoundedConversion() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var mismatches: [String] = []
        for _ in 0..<20_000 {
            let lexeme = Self.randomNumberLexeme(&rng)
            let reference = Double(lexeme)!
            do throws(JSONParseError) {
                let value = try JSONParser.parse(lexeme)
                if !reference.isFinite || value.asNumber?.bitPattern != reference.bitPattern {
                    mismatches.append(lexeme)
                }
            } catch {
                if reference.isFinite || error.message != "number out of range" { mismatches.append(lexeme) }
            }
        }
        #expect(mismatches.count == 0, "\(mismatches.prefix(5))")
    }

    static func randomNumberLexeme(_ rng: inout SplitMix64) -> String {
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(Unicode.Scalar(UInt8.random(in: 48...57, using: &rng))) })
        }
        var text = Bool.random(using: &rng) ? "-" : ""
        let integerDigits = Int.random(in: 0...20, using: &rng)
        text += integerDigits == 0 ? "0" : String(Int.random(in: 1...9, using: &rng)) + digits(integerDigits - 1)
        if Bool.random(using: &rng) {
            text += "." + digits(Int.random(in: 1...20, using: &rng))
        }
        if Bool.random(using: &rng) {
            let exponent = Bool.random(using: &rng) ? Int.random(in: -25...25, using: &rng) : Int.random(in: -340...320, using: &rng)
            text += (Bool.random(using: &rng) ? "e" : "E") + (exponent >= 0 && Bool.random(using: &rng) ? "+" : "") + String(exponent)
        }
        return text
    }

    // MARK: - Fuzzing

    /// Valid documents that the mutation fuzzer starts from.
    static let seedDocuments: [String] = [
        #"{"name": "normal-normal", "data": {"x": [[-0.1, 0.3], [0.0, 0.4]]}, "plates": {"p": {"size": 2}}}"#,
        #"[1, -0, 2.5e-3, 1E+2, 12345678901234567890, true, false, null, "", "a\"b", "\u00e9\uD83D\uDE00"]"#,
        #"{"model": [{"sample": "z", "dist": "Normal", "args": {"loc": 0, "scale": 1}}], "guide": []}"#,
        "[[[[[]]]], {\"a\": {\"b\": {\"c\": [1, {}]}}}]",
        "\"\u{E9}t\u{E9} \u{1F600} \\n \\t \\\\ \\/\"",
        #"{"inference": {"elbo": "tracegraph", "steps": 5000, "optimizer": {"name": "adam", "lr": 0.0015, "betas": [0.97, 0.999]}}}"#,
        "  -1.7976931348623157e308  ",
        "[5e-324, 1e-320, 0.1, 0.2, 0.30000000000000004]",
    ]

    /// Bytes that matter to the grammar, drawn more often than uniformly random bytes.
    static let grammarBytes = Array(#"{}[]:,"\ 0123456789-+.eEtrufalsnux/bD8C"#.utf8) + [0x0A, 0x0D, 0x09, 0x00, 0xC3, 0xA9, 0xED, 0xF0, 0x9F]

    static func randomByte(_ rng: inout SplitMix64) -> UInt8 {
        Int.random(in: 0..<10, using: &rng) < 7 ? grammarBytes.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
    }

    static func mutate(_ document: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = document
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let i = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[i] = randomByte(&rng)
            case 1: bytes.insert(randomByte(&rng), at: i)
            case 2 where !bytes.isEmpty: bytes.remove(at: i)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, i + Int.random(in: 1...8, using: &rng))
                bytes.insert(contentsOf: bytes[i..<end], at: Int.random(in: 0...bytes.count, using: &rng))
            case 4 where !bytes.isEmpty: bytes.swapAt(i, Int.random(in: 0..<bytes.count, using: &rng))
            default: bytes.removeLast(Int.random(in: 0...min(3, bytes.count), using: &rng))
            }
        }
        return bytes
    }

    /// Parses `bytes`; an accepted document must round-trip, a refused one must report a
    /// position inside the input. Returns whether it was accepted, or a failure description.
    static func check(_ bytes: [UInt8]) -> Result<Bool, FuzzFailure> {
        do throws(JSONParseError) {
            let value = try JSONParser.parse(bytes)
            let text = value.serialized()
            guard let again = try? JSONParser.parse(text), again == value, again.serialized() == text else {
                return .failure(FuzzFailure(bytes: bytes, reason: "no round trip via \(text)"))
            }
            return .success(true)
        } catch {
            guard (0...bytes.count).contains(error.offset), error.line >= 1, error.column >= 1, !error.message.isEmpty else {
                return .failure(FuzzFailure(bytes: bytes, reason: "bad error \(error)"))
            }
            return .success(false)
        }
    }

    struct FuzzFailure: Error, CustomStringConvertible {
        let bytes: [UInt8]
        let reason: String
        var description: String { "\(bytes): \(reason)" }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 0x5EED_0002)
        var failures: [FuzzFailure] = []
        var accepted = 0
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...48, using: &rng)).map { _ in Self.randomByte(&rng) }
            switch Self.check(bytes) {
            case let .success(ok): accepted += ok ? 1 : 0
            case let .failure(f): failures.append(f)
            }
        }
        #expect(failures.count == 0, "\(failures.prefix(3))")
        #expect(accepted > 0)
    }

    @Test func mutatedDocumentsNeverCrash() {
        var rng = SplitMix64(seed: 0x5EED_0003)
        let seeds = Self.seedDocuments.map { Array($0.utf8) }
        var failures: [FuzzFailure] = []
        var accepted = 0
        for seed in seeds {
            #expect((try? Self.check(seed).get()) == true, "seed \(String(decoding: seed, as: UTF8.self))")
        }
        for _ in 0..<20_000 {
            let bytes = Self.mutate(seeds.randomElement(using: &rng)!, &rng)
            switch Self.check(bytes) {
            case let .success(ok): accepted += ok ? 1 : 0
            case let .failure(f): failures.append(f)
            }
        }
        #expect(failures.count == 0, "\(failures.prefix(3))")
        #expect(accepted > 1000)
    }
}
