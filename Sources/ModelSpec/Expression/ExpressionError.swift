/// Why an expression could not be tokenized or parsed, with the span it concerns.
///
/// `message` is a complete sentence fragment meant for the user; it names the column of
/// `range`, e.g. "unexpected ')' at column 7".
public struct ExpressionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What went wrong and, where possible, how to fix it.
    public let message: String
    /// The part of the expression the message is about.
    public let range: SourceRange

    /// Creates an error with a user-facing message about `range`.
    public init(_ message: String, at range: SourceRange) {
        self.message = message
        self.range = range
    }

    /// The message, as shown to users.
    public var description: String { message }
}
