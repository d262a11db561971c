import Testing

@Suite struct ModelSpecPlaceholder { @Test func builds() {} }
