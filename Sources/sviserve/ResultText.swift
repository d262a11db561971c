import Foundation
import Inference
import JSON
import ModelSpec

/// A result as people read it (a summary table) and as programs read it (JSON, params first).
enum ResultText {
    /// Elements shown per site or param before "… N more".
    static let rowsPerSite = 10

    /// The summary: final ELBO and timing, posterior table per latent site, fitted params.
    static func table(_ r: JobResult) -> String {
        var out = "final ELBO \(number(r.finalELBO)) · \(r.steps) steps in \(String(format: "%.2f", r.seconds)) s (\(grouped(r.stepsPerSecond)) steps/s)\n"
        if !r.posterior.isEmpty {
            var rows: [[String]] = [["site", "estimator", "mean", "sd", "5%", "50%", "95%"]]
            for s in r.posterior {
                let n = s.mean.count
                for i in 0..<min(n, rowsPerSite) {
                    rows.append([label(s.site, s.shape, i), i == 0 ? s.estimator : "", number(s.mean[i]), number(s.sd[i]),
                                 number(s.q05[i]), number(s.q50[i]), number(s.q95[i])])
                }
                if n > rowsPerSite { rows.append(["  … \(n - rowsPerSite) more", "", "", "", "", "", ""]) }
            }
            out += "\nposterior (guide draws)\n" + layout(rows, rightAligned: 2...)
        }
        if !r.params.isEmpty {
            var rows: [[String]] = [["param", "value"]]
            for p in r.params {
                for i in 0..<min(p.values.count, rowsPerSite) { rows.append([label(p.name, p.shape, i), number(p.values[i])]) }
                if p.values.count > rowsPerSite { rows.append(["  … \(p.values.count - rowsPerSite) more", ""]) }
            }
            out += "\nparams (constrained)\n" + layout(rows, rightAligned: 1...)
        }
        return out
    }

    /// Gradient estimates at fixed params: the ELBO, then each param element's mean ± s.e.
    static func table(_ g: GradientEstimate) -> String {
        var rows: [[String]] = [["param (unconstrained)", "mean d(−ELBO)", "s.e."]]
        for p in g.parameters {
            for i in p.mean.indices { rows.append([label(p.name, p.shape, i), number(p.mean[i]), number(p.standardError[i])]) }
        }
        return "\(g.draws) gradient estimates · ELBO \(number(g.elbo)) ± \(number(g.elboStandardError))\n" + layout(rows, rightAligned: 1...)
    }

    /// Gradient estimates as JSON: `{draws, elbo, elbo_standard_error, gradients: {name: {shape, mean, standard_error}}}`.
    static func json(_ g: GradientEstimate) -> String {
        func list(_ xs: [Double]) -> String { "[" + xs.map(JSONWriter.floatText).joined(separator: ", ") + "]" }
        let params = g.parameters.map {
            "\(JSONWriter.quoted($0.name)): {\"shape\": [\($0.shape.map(String.init).joined(separator: ", "))], \"mean\": \(list($0.mean)), \"standard_error\": \(list($0.standardError))}"
        }
        return "{\"draws\": \(g.draws), \"elbo\": \(JSONWriter.floatText(g.elbo)), \"elbo_standard_error\": \(JSONWriter.floatText(g.elboStandardError)), \"gradients\": {\(params.joined(separator: ", "))}}"
    }

    /// `name` for a scalar, `name[i, j]` for element `i` (row-major) of a tensor of `shape`.
    static func label(_ name: String, _ shape: [Int], _ flat: Int) -> String {
        guard !shape.isEmpty else { return name }
        var index: [Int] = [], rest = flat
        for size in shape.reversed() {
            index.append(size > 0 ? rest % size : 0)
            rest = size > 0 ? rest / size : 0
        }
        return "\(name)[\(index.reversed().map(String.init).joined(separator: ", "))]"
    }

    /// Columns padded to their widest cell, a rule under the header.
    static func layout(_ rows: [[String]], rightAligned: PartialRangeFrom<Int>) -> String {
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        func line(_ row: [String]) -> String {
            row.indices.map { c in
                let pad = String(repeating: " ", count: widths[c] - row[c].count)
                return rightAligned.contains(c) ? pad + row[c] : row[c] + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        let rule = widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")
        return ([line(rows[0]), rule] + rows.dropFirst().map(line)).joined(separator: "\n") + "\n"
    }

    /// Four significant digits, plain or scientific as fits.
    static func number(_ x: Double) -> String {
        guard x.isFinite else { return x.isNaN ? "NaN" : (x > 0 ? "inf" : "-inf") }
        return String(format: "%.4g", x)
    }

    /// An integer with thousands separators (`23,809`).
    static func grouped(_ x: Double) -> String {
        guard x.isFinite else { return "–" }
        let digits = String(Int(x.rounded()))
        var out = ""
        for (i, c) in digits.reversed().enumerated() {
            if i > 0, i % 3 == 0, c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    /// The full result as JSON, keys in reading order — params, posterior, final ELBO, timing,
    /// and the ELBO trace last — one top-level key per line.
    static func json(_ r: JobResult) -> String {
        func text<T: Encodable>(_ v: T) -> String { (try? JSONValueEncoder().text(v)) ?? "null" }
        var members: [(String, String)] = [
            ("params", text(r.params)), ("posterior", text(r.posterior)), ("final_elbo", text(r.finalELBO)),
            ("steps", text(r.steps)), ("seconds", text(r.seconds)), ("steps_per_second", text(r.stepsPerSecond)),
        ]
        if let d = r.derived { members.append(("derived", text(d))) }
        if let t = r.transport { members.append(("transport", text(t))) }
        if let g = r.gaussians { members.append(("gaussians", text(g))) }
        members.append(("elbo_trace", text(r.elboTrace)))
        return "{\n" + members.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}"
    }
}

/// Progress on a terminal — a bar redrawn in place with the rate and the time left — or, when
/// the output is not a terminal, one plain line per report.
final class ProgressBar {
    let total: Int, terminal: Bool, quiet: Bool
    private let start = Date()
    private let firstStep: Int
    private var drawn = false

    init(total: Int, firstStep: Int = 0, terminal: Bool = isatty(STDERR_FILENO) == 1, quiet: Bool = false) {
        self.total = total; self.firstStep = firstStep; self.terminal = terminal; self.quiet = quiet
    }

    /// Shows step `step` with its ELBO (and gradient norm, when known).
    func report(step: Int, elbo: Double, gradNorm: Double?) {
        guard !quiet else { return }
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let rate = Double(step - firstStep) / elapsed
        let eta = rate > 0 ? Double(total - step) / rate : .infinity
        if terminal {
            let width = 30
            let filled = total > 0 ? min(width, width * step / total) : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let percent = total > 0 ? 100 * step / total : 100
            write("\r\(bar) \(String(format: "%3d", percent))%  \(step)/\(total)  ELBO \(ResultText.number(elbo))  \(ResultText.grouped(rate)) steps/s  ETA \(Self.duration(eta))\u{1B}[K")
            drawn = true
        } else {
            let grad = gradNorm.map { " grad_norm \(ResultText.number($0))" } ?? ""
            write("step \(step)/\(total) elbo \(ResultText.number(elbo))\(grad) steps_per_s \(ResultText.grouped(rate)) eta_s \(eta.isFinite ? String(format: "%.1f", eta) : "-")\n")
        }
    }

    /// Ends the bar's line.
    func finish() {
        if drawn { write("\n"); drawn = false }
    }

    /// `0:07`, `12:30`, `1:02:03`; `--:--` when unknown.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0, seconds < 360_000 else { return "--:--" }
        let s = Int(seconds.rounded(.up))
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    private func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}
