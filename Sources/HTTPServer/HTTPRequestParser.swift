/// An incremental, strict HTTP/1.1 request parser for one connection, independent of any
/// transport.
///
/// Feed it bytes as they arrive with ``feed(_:)``; it returns the events those bytes complete,
/// in stream order. Bytes may be split anywhere — one at a time, mid-CRLF, mid-chunk — and
/// several pipelined requests may arrive in one buffer: the events are the same either way.
///
/// ```swift
/// var parser = HTTPRequestParser()
/// for event in parser.feed(received) {
///     switch event {
///     case .bodyFollows(_, _, let expectsContinue): if expectsContinue { write("HTTP/1.1 100 Continue\r\n\r\n") }
///     case .request(let request): respond(to: request)   // in order, keepAlive permitting
///     case .failure(let error): respond(error.status, error.reason); close()
///     }
/// }
/// ```
///
/// Strictness: anything that two HTTP implementations could frame differently is refused with
/// a ``HTTPParseError`` rather than guessed at — both `Content-Length` and `Transfer-Encoding`,
/// codings other than a single final `chunked`, differing `Content-Length`s, obsolete line
/// folding, whitespace before a colon, bare CR, and bare LF line endings (which RFC 9112 §2.2
/// would allow; every real client sends CRLF, and accepting LF where a proxy does not is a
/// known desynchronisation). After a failure, or after a request whose ``HTTPRequest/keepAlive``
/// is false, the parser reads no further bytes.
///
/// Memory: between calls the parser holds at most one incomplete line (bounded by the
/// ``HTTPLimits``) plus the current request's head and body so far.
public struct HTTPRequestParser: Sendable {
    /// The connection's position in the request stream.
    enum State: Sendable {
        /// Between requests, waiting for a request line. Empty lines before it are skipped
        /// (RFC 9112 §2.2); `skippedBytes` counts them against the request-line limit so that
        /// an endless stream of CRLFs is still refused.
        case requestLine(skippedBytes: Int)
        /// The request line has been read; header field lines are collected, within `budget`,
        /// until the empty line that ends the header section.
        case headerSection(RequestLine, HTTPHeaders, budget: FieldBudget)
        /// The head has been accepted; `remaining` (more than zero) body bytes of a
        /// `Content-Length` body are still to come after `body`.
        case fixedLengthBody(HTTPRequestHead, body: [UInt8], remaining: Int)
        /// The head has been accepted; a chunked body is being decoded.
        case chunkedBody(HTTPRequestHead, ChunkedBodyDecoder)
        /// The last request did not keep the connection alive: the server will close after
        /// answering it, so later bytes are discarded unread rather than parsed as requests.
        case closed
        /// The stream was refused: the connection must close after answering the error. No
        /// further bytes are read, since framing can no longer be trusted.
        case failed(HTTPParseError)
    }

    /// The limits this parser enforces.
    public let limits: HTTPLimits
    private var state = State.requestLine(skippedBytes: 0)
    private var input = InputBuffer()

    /// Creates a parser for a new connection.
    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// The error that poisoned the parser, or `nil` while it is still reading requests.
    public var error: HTTPParseError? {
        if case .failed(let error) = state { return error }
        return nil
    }

    /// Whether the parser reads no more bytes, because of an error or because the last request
    /// asked for the connection to close.
    public var isFinished: Bool {
        switch state {
        case .closed, .failed: true
        default: false
        }
    }

    /// Whether part of a request's head (request line and header section, or empty lines
    /// before them) has arrived but not all of it: the span a server's header-read timeout
    /// bounds against slow-loris clients.
    var isReadingHead: Bool {
        switch state {
        case .requestLine(let skippedBytes): skippedBytes > 0 || !input.isEmpty
        case .headerSection: true
        case .fixedLengthBody, .chunkedBody, .closed, .failed: false
        }
    }

    /// The body bytes of the request being read so far (decoded, for a chunked body), or `nil`
    /// when no body is being read: what a server measures a body's arrival rate and its share
    /// of buffered memory by.
    public var bodyBytesReceived: Int? {
        switch state {
        case .fixedLengthBody(_, let body, _): body.count
        case .chunkedBody(_, let decoder): decoder.body.count
        default: nil
        }
    }

    /// Parses `bytes`, received after all earlier ones, and returns the events they complete.
    ///
    /// `bytes` may be any byte sequence: an `UnsafeRawBufferPointer` over a socket read buffer,
    /// `[UInt8]`, `ArraySlice<UInt8>`, a string's `utf8` view. Contiguous ones are copied in bulk.
    ///
    /// A ``HTTPParserEvent/failure(_:)`` is always the last event, and every later call
    /// returns no events. Once ``isFinished`` is true, bytes are ignored.
    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [HTTPParserEvent] {
        guard !isFinished else { return [] }
        input.append(contentsOf: bytes)
        var events: [HTTPParserEvent] = []
        do {
            while try step(into: &events) {}
        } catch {
            fail(error, events: &events)
        }
        input.compact()
        return events
    }

    /// Tells the parser the peer closed its sending side.
    ///
    /// - Returns: ``HTTPParserEvent/failure(_:)`` with ``HTTPParseError/incompleteRequest``
    ///   (and poisons the parser) if a request had begun, otherwise `nil`: a close between
    ///   requests is the normal end of a connection.
    public mutating func finish() -> HTTPParserEvent? {
        switch state {
        case .closed, .failed:
            return nil
        case .requestLine where input.isEmpty:
            state = .closed
            return nil
        case .requestLine, .headerSection, .fixedLengthBody, .chunkedBody:
            var events: [HTTPParserEvent] = []
            fail(.incompleteRequest, events: &events)
            return events.last
        }
    }

    private mutating func fail(_ error: HTTPParseError, events: inout [HTTPParserEvent]) {
        state = .failed(error)
        input.removeAll()
        events.append(.failure(error))
    }

    /// Advances the state machine by one unit of input (a line or a run of body bytes).
    ///
    /// - Returns: whether it made progress, so the caller should step again; `false` when
    ///   more bytes are needed or none will be read.
    private mutating func step(into events: inout [HTTPParserEvent]) throws(HTTPParseError) -> Bool {
        switch state {
        case .requestLine(let skippedBytes):
            guard let line = try input.readLine(maxLength: limits.maxRequestLineLength, tooLong: .requestLineTooLong) else {
                return false
            }
            if line.isEmpty {
                let skipped = skippedBytes + 2
                guard skipped <= limits.maxRequestLineLength else { throw .tooManyEmptyLines }
                state = .requestLine(skippedBytes: skipped)
            } else {
                state = .headerSection(try RequestLine(parsing: line), HTTPHeaders(), budget: FieldBudget(limits: limits))
            }
            return true

        case .headerSection(let requestLine, var headers, var budget):
            guard let line = try budget.readLine(from: &input) else { return false }
            if line.isEmpty {
                let semantics = try RequestSemantics(requestLine: requestLine, headers: headers, limits: limits)
                begin(semantics, budget: budget, events: &events)
            } else {
                // Release the state's copy first so `headers` is appended to in place.
                state = .closed
                let field = try FieldLine.parse(line)
                headers.append(name: field.name, value: field.value)
                state = .headerSection(requestLine, headers, budget: budget)
            }
            return true

        case .fixedLengthBody(let head, var body, let remaining):
            guard !input.isEmpty else { return false }
            state = .closed
            let bytes = input.read(upTo: remaining)
            body.append(contentsOf: bytes)
            if bytes.count == remaining {
                complete(HTTPRequest(head: head, body: body), events: &events)
            } else {
                state = .fixedLengthBody(head, body: body, remaining: remaining - bytes.count)
            }
            return true

        case .chunkedBody(let head, var decoder):
            state = .closed
            if try decoder.decode(from: &input) {
                complete(HTTPRequest(head: head, body: decoder.body), events: &events)
                return true
            }
            state = .chunkedBody(head, decoder)
            return false

        case .closed, .failed:
            return false
        }
    }

    /// Moves from an accepted head to its body, or completes a request without one.
    private mutating func begin(_ semantics: RequestSemantics, budget: FieldBudget, events: inout [HTTPParserEvent]) {
        switch semantics.framing {
        case .none:
            complete(HTTPRequest(head: semantics.head), events: &events)
        case .contentLength(let length):
            events.append(.bodyFollows(semantics.head, declaredLength: length, expectsContinue: semantics.expectsContinue))
            var body: [UInt8] = []
            // Reserve only what a client cannot inflate by merely declaring a large length.
            body.reserveCapacity(min(length, 64 * 1024))
            state = .fixedLengthBody(semantics.head, body: body, remaining: length)
        case .chunked:
            events.append(.bodyFollows(semantics.head, declaredLength: nil, expectsContinue: semantics.expectsContinue))
            state = .chunkedBody(semantics.head, ChunkedBodyDecoder(limits: limits, budget: budget))
        }
    }

    /// Emits a complete request and waits for the next one, if the connection stays open.
    private mutating func complete(_ request: HTTPRequest, events: inout [HTTPParserEvent]) {
        events.append(.request(request))
        if request.keepAlive {
            state = .requestLine(skippedBytes: 0)
        } else {
            state = .closed
            input.removeAll()
        }
    }
}
