import Testing

@Suite struct AutodiffPlaceholder { @Test func builds() {} }
