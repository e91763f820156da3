/// Inputs that once crashed or misbehaved a parser, replayed by `FuzzTests.regressionInputsStayFixed`
/// (base64, so any bytes fit). Files of any other kind dropped in this directory are replayed too.
enum RegressionInputs {
    static let all: [(name: String, base64: String)] = [
        // Not crashes (none found so far): the edge shapes the fuzzer's first runs reported as slow or odd,
        // kept so they stay covered. 100000 nested arrays (the recursive-descent depth limit).
        ("deep-arrays", String(repeating: "W1tb", count: 33_334)),
        // A lone UTF-16 high surrogate escape inside a key.
        ("lone-surrogate", "eyJcdWQ4MDAiOiAxfQ=="),
        // Integer one past Int64.max as a port.
        ("port-int64-overflow", "eyJlbmRwb2ludCI6IHsiY29uZmlnIjogeyJwb3J0IjogOTIyMzM3MjAzNjg1NDc3NTgwOH19fQ=="),
    ]
}
