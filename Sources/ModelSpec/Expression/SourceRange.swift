/// A half-open span of an expression's text, in UTF-8 byte offsets counted from 0.
///
/// Expressions that get past the tokenizer are pure ASCII, and the tokenizer stops at the first
/// non-ASCII character, so every offset an error reports is also a character offset. Newlines
/// count as ordinary characters: columns run from the start of the expression, not of a line.
public struct SourceRange: Hashable, Sendable, CustomStringConvertible {
    /// The offset of the first byte in the span.
    public let start: Int
    /// The offset one past the last byte in the span; equal to `start` for an empty span.
    public let end: Int

    /// Creates the span `start..<end`; `start` must not exceed `end`.
    public init(start: Int, end: Int) {
        precondition(0 <= start && start <= end, "SourceRange needs 0 <= start <= end")
        self.start = start
        self.end = end
    }

    /// The 1-based column of the span's first character, as error messages print it.
    public var column: Int { start + 1 }

    /// The number of bytes the span covers.
    public var length: Int { end - start }

    /// The smallest span that covers both `self` and `other`.
    public func union(_ other: SourceRange) -> SourceRange {
        SourceRange(start: min(start, other.start), end: max(end, other.end))
    }

    /// `start..<end`, for test failures and debugging.
    public var description: String { "\(start)..<\(end)" }
}
