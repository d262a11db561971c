import Testing
@testable import JSON

@Suite struct JSONPointerTests {
    /// The example document of RFC 6901 §5.
    static let rfcDocument = #"""
        {
          "foo": ["bar", "baz"],
          "": 0,
          "a/b": 1,
          "c%d": 2,
          "e^f": 3,
          "g|h": 4,
          "i\\j": 5,
          "k\"l": 6,
          " ": 7,
          "m~n": 8
        }
        """#

    /// RFC 6901 §5: each pointer string and the value it designates in `rfcDocument`.
    static let rfcExamples: [(String, JSONValue)] = [
        ("/foo", ["bar", "baz"]),
        ("/foo/0", "bar"),
        ("/", 0),
        ("/a~1b", 1),
        ("/c%d", 2),
        ("/e^f", 3),
        ("/g|h", 4),
        (#"/i\j"#, 5),
        (#"/k"l"#, 6),
        ("/ ", 7),
        ("/m~0n", 8),
    ]

    @Test func rfcExamplesResolve() throws {
        let document = try JSONParser.parse(Self.rfcDocument)
        #expect(JSONPointer(parsing: "")?.resolve(in: document) == document)
        for (text, expected) in Self.rfcExamples {
            let pointer = try #require(JSONPointer(parsing: text), "\(text)")
            #expect(pointer.resolve(in: document) == expected, "\(text)")
            #expect(pointer.description == text)
        }
    }

    @Test func escapingOfTildeAndSlash() {
        let pointer = JSONPointer.root / "a/b" / "m~n" / "~1" / 3
        #expect(pointer.tokens == ["a/b", "m~n", "~1", "3"])
        #expect(pointer.description == "/a~1b/m~0n/~01/3")
        #expect(JSONPointer(parsing: pointer.description) == pointer)
        #expect(JSONPointer.root.description == "")
        #expect(JSONPointer.root.appending("").description == "/")
        #expect(JSONPointer(parsing: "/~01")?.tokens == ["~1"])
        #expect(JSONPointer(parsing: "//")?.tokens == ["", ""])
    }

    @Test(arguments: ["a", "a/b", "/~", "/~2", "/a~", "#/foo"])
    func malformedPointersAreRejected(text: String) {
        #expect(JSONPointer(parsing: text) == nil)
    }

    @Test func resolutionFailures() throws {
        let document = try JSONParser.parse(#"{"a": [10, 20, {"b": null}], "s": "text"}"#)
        #expect((JSONPointer.root / "a" / 2 / "b").resolve(in: document) == .null)
        #expect((JSONPointer.root / "a" / 1).resolve(in: document) == 20)
        for text in ["/a/3", "/a/-", "/a/01", "/a/+1", "/a/-1", "/a/b", "/missing", "/s/0", "/a/0/x", "/a/99999999999999999999"] {
            #expect(JSONPointer(parsing: text)?.resolve(in: document) == nil, "\(text)")
        }
    }

    @Test func tokensCompareByScalarsNotCanonicalEquivalence() {
        let composed = JSONPointer.root / "\u{E9}"
        let decomposed = JSONPointer.root / "e\u{301}"
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
    }

    @Test func orderFollowsTheDocument() throws {
        let texts = ["/b", "/a/10", "", "/a/9", "/a", "/a/x", "/a/9/z", "/a/01"]
        let sorted = texts.compactMap(JSONPointer.init(parsing:)).sorted().map(\.description)
        #expect(sorted == ["", "/a", "/a/9", "/a/9/z", "/a/10", "/a/01", "/a/x", "/b"])
    }

    @Test func parentAndRoot() {
        let pointer = JSONPointer.root / "x" / 0
        #expect(pointer.parent == JSONPointer.root / "x")
        #expect(pointer.parent?.parent == .root)
        #expect(JSONPointer.root.parent == nil)
        #expect(JSONPointer.root.isRoot && !pointer.isRoot)
    }
}
