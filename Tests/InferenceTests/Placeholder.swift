import Testing

@Suite struct InferencePlaceholder { @Test func builds() {} }
