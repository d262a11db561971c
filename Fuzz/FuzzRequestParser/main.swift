import HTTPServer
import Glibc

// libFuzzer target for `HTTPRequestParser`. Each input is parsed twice — whole, and split at
// a point chosen by its first byte into two feeds — and the events must be identical: the
// parser's answer may not depend on how TCP segments the stream. Small limits put every
// limit check within the fuzzer's reach. A crash, a trap or differing events is a finding.

let limits = HTTPLimits(maxRequestLineLength: 64, maxHeaderSectionLength: 256, maxHeaderFieldCount: 8,
                        maxBodyLength: 128, maxChunkLineLength: 16)

func parse(_ parts: [UnsafeRawBufferPointer]) -> [HTTPParserEvent] {
    var parser = HTTPRequestParser(limits: limits)
    var events: [HTTPParserEvent] = []
    for part in parts { events += parser.feed(part) }
    if let last = parser.finish() { events.append(last) }
    return events
}

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let whole = parse([bytes])
    if size > 1 {
        let cut = 1 + Int(bytes[0]) % (size - 1)
        let split = parse([UnsafeRawBufferPointer(rebasing: bytes[..<cut]), UnsafeRawBufferPointer(rebasing: bytes[cut...])])
        precondition(whole == split, "events differ when the input is split at \(cut)")
    }
    if let failure = whole.last, case .failure(let error) = failure {
        precondition((400...599).contains(error.status), "parse error \(error) maps to a non-error status")
    }
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
