/// Parsing of one field line, `field-name ":" OWS field-value OWS` (RFC 9112 §5), shared by
/// the header and trailer sections.
enum FieldLine {
    /// Parses a field line without its CRLF.
    ///
    /// - Throws: ``HTTPParseError/obsoleteLineFolding`` for a line starting with whitespace,
    ///   ``HTTPParseError/missingColon``, ``HTTPParseError/whitespaceBeforeColon``,
    ///   ``HTTPParseError/invalidFieldName`` or ``HTTPParseError/invalidFieldValue``.
    static func parse(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> HTTPField {
        if let first = line.first, HTTPSyntax.isOptionalWhitespace(first) { throw .obsoleteLineFolding }
        guard let colon = line.firstIndex(of: HTTPSyntax.colon) else { throw .missingColon }
        let name = line[..<colon]
        if let last = name.last, HTTPSyntax.isOptionalWhitespace(last) { throw .whitespaceBeforeColon }
        guard !name.isEmpty, name.allSatisfy(HTTPSyntax.isTokenCharacter) else { throw .invalidFieldName }
        let value = HTTPSyntax.trimmingOptionalWhitespace(line[(colon + 1)...])
        guard value.allSatisfy(HTTPSyntax.isFieldValueCharacter) else { throw .invalidFieldValue }
        return HTTPField(name: String(decoding: name, as: UTF8.self), value: HTTPSyntax.latin1String(value))
    }
}

/// What remains of the header-section limits, charged by header and trailer lines alike.
struct FieldBudget: Sendable, Hashable {
    /// Field-line bytes still allowed, not counting line endings.
    private(set) var remainingBytes: Int
    /// Field lines still allowed.
    private(set) var remainingFields: Int

    init(limits: HTTPLimits) {
        remainingBytes = limits.maxHeaderSectionLength
        remainingFields = limits.maxHeaderFieldCount
    }

    /// Reads the next line of a field section within the remaining byte budget.
    ///
    /// - Returns: the line, `nil` until it has arrived; an empty line ends the section.
    /// - Throws: ``HTTPParseError/headerSectionTooLarge``, ``HTTPParseError/tooManyFields``, or
    ///   a line-syntax error.
    mutating func readLine(from input: inout InputBuffer) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        guard let line = try input.readLine(maxLength: remainingBytes, tooLong: .headerSectionTooLarge) else {
            return nil
        }
        if !line.isEmpty {
            guard remainingFields > 0 else { throw .tooManyFields }
            remainingFields -= 1
            remainingBytes -= line.count
        }
        return line
    }
}
