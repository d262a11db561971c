import Testing

@Suite struct DistributionsPlaceholder { @Test func builds() {} }
