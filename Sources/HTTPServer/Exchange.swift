/// One request's place in its connection's response order.
///
/// Responses must leave in the order their requests arrived (pipelining, RFC 9112 §9.3.2), but
/// handlers finish in any order; each request therefore gets an exchange when it arrives, and
/// the connection writes only the exchange at the front.
struct Exchange {
    /// How far the exchange has come.
    enum State {
        /// The head has been read and admitted; the body is still arriving.
        case awaitingBody
        /// The request is complete: its handler is running, or waiting for a handler slot.
        case handling
        /// The response is known and waits for the responses before it. The writer is the
        /// stream's, when the body is a stream whose producer has been started.
        case ready(HTTPResponse, ResponseWriter?)
        /// The head is written; the stream's bytes are forwarded as the producer writes them
        /// (`chunked`: in chunked coding, otherwise raw until the connection closes).
        case streaming(ResponseWriter, chunked: Bool)
    }

    /// The exchange's position in the connection's request stream, to find it again when its
    /// handler returns.
    let sequence: UInt64
    var state: State
    /// What of the request shapes the response's framing.
    var request: ResponseEncoder.RequestSummary
    /// Whether a `100 Continue` is still owed, to be written when this exchange reaches the
    /// front — unless the body has arrived by then, when it is no longer needed.
    var owesContinue: Bool
    /// Whether the connection closes after this response: an error, or a request that did not
    /// keep the connection alive.
    var closesConnection: Bool
    /// The bytes of the server's body budget this exchange holds while its body arrives.
    var reservedBodyBytes = 0
    /// While the body arrives: when its rate is measured from (monotonic nanoseconds) and how
    /// many body bytes had arrived then; `nil` until the body is due (a `100 Continue` not yet
    /// sent) or once it is complete.
    var bodyClock: (since: UInt64, bytes: Int)?

    /// Closes the exchange's stream, if it has one, because its response will never be sent
    /// in full.
    func abandon(_ reason: ResponseWriter.Termination) {
        switch state {
        case .ready(_, let writer?): writer.terminate(reason)
        case .streaming(let writer, _): writer.terminate(reason)
        case .awaitingBody, .handling, .ready(_, nil): break
        }
    }
}
