/// An origin-form request target (RFC 9112 §3.2.1) split into its decoded path and query, or
/// the asterisk form of `OPTIONS *`.
struct RequestTarget: Sendable, Hashable {
    /// The percent-decoded path; `+` stays a plus sign here. `*` for the asterisk form.
    var path: String
    /// The query's `&`-separated pairs in order, empty pairs dropped.
    var queryItems: [HTTPQueryItem]

    /// Parses `bytes`, which the caller has already checked against the target byte class.
    ///
    /// - Throws: ``HTTPParseError/targetNotOriginForm``, ``HTTPParseError/asteriskTargetNotAllowed``,
    ///   ``HTTPParseError/invalidPercentEncoding`` or ``HTTPParseError/targetNotUTF8``.
    init(parsing bytes: ArraySlice<UInt8>, method: String) throws(HTTPParseError) {
        if bytes.elementsEqual(CollectionOfOne(HTTPSyntax.asterisk)) {
            guard method == "OPTIONS" else { throw .asteriskTargetNotAllowed }
            self.path = "*"
            self.queryItems = []
            return
        }
        guard bytes.first == HTTPSyntax.slash else { throw .targetNotOriginForm }
        let questionMark = bytes.firstIndex(of: HTTPSyntax.questionMark)
        self.path = try PercentDecoding.decode(bytes[..<(questionMark ?? bytes.endIndex)], plusIsSpace: false)
        guard let questionMark else {
            self.queryItems = []
            return
        }
        var items: [HTTPQueryItem] = []
        for pair in bytes[(questionMark + 1)...].split(separator: HTTPSyntax.ampersand) {
            let equals = pair.firstIndex(of: HTTPSyntax.equals)
            let name = try PercentDecoding.decode(pair[..<(equals ?? pair.endIndex)], plusIsSpace: true)
            var value = ""
            if let equals {
                value = try PercentDecoding.decode(pair[(equals + 1)...], plusIsSpace: true)
            }
            items.append(HTTPQueryItem(name: name, value: value))
        }
        self.queryItems = items
    }
}

/// Percent-decoding (RFC 3986 §2.1) of request-target components into UTF-8 strings.
enum PercentDecoding {
    /// Decodes `%XX` octets, and `+` as a space when `plusIsSpace`.
    ///
    /// - Throws: ``HTTPParseError/invalidPercentEncoding`` for a `%` not followed by two hex
    ///   digits; ``HTTPParseError/targetNotUTF8`` when the decoded bytes are not UTF-8.
    static func decode(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) throws(HTTPParseError) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == HTTPSyntax.percent {
                guard bytes.endIndex - index >= 3,
                      let high = HTTPSyntax.hexValue(bytes[index + 1]),
                      let low = HTTPSyntax.hexValue(bytes[index + 2])
                else { throw .invalidPercentEncoding }
                decoded.append(UInt8(high << 4 | low))
                index += 3
            } else {
                decoded.append(plusIsSpace && byte == HTTPSyntax.plus ? HTTPSyntax.space : byte)
                index += 1
            }
        }
        guard let string = String(validating: decoded, as: UTF8.self) else { throw .targetNotUTF8 }
        return string
    }
}
