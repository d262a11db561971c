import Autodiff
import Inference
import JSON

/// The resource checks of a compilation (``ValidationLimits``): made as the graph is built,
/// so a spec past a bound is refused where it passed it, before the part is evaluated.
extension Compilation {
    /// Reports the graph's limit error at `pointer` (once) and returns false when a limit was
    /// passed while building the part at `pointer`.
    /// Also reports there a job that has outgrown ``ValidationLimits/maxJobBytes`` (its graph so
    /// far counted as if every node had a value and an adjoint), so a job too large to run is
    /// refused where it grew too large, before the rest of it is built.
    func withinLimits(at pointer: JSONPointer) -> Bool {
        if let e = graph.limitError {
            if !limitReported {
                limitReported = true
                diagnostics.report(pointer, "\(e.message). \(Compilation.sizeAdvice)")
            }
            return false
        }
        let estimate = JobMemoryEstimate(uncompiled: graph, sites: siteInfos, particles: spec.inference.particles)
        guard estimate.total > limits.maxJobBytes else { return true }
        limitReported = true
        diagnostics.report(pointer, "with this part the job needs about \(ByteCount.text(estimate.total)) while it runs (\(estimate.breakdown)); the limit is \(ByteCount.text(limits.maxJobBytes)). \(Compilation.sizeAdvice)")
        return false
    }

    static let sizeAdvice = "Fewer particles, smaller plates, a plate 'subsample' or smaller constants reduce it; large inputs belong in 'data'"

    /// The cost of the nodes an expression added from position `start` on: why it cannot be
    /// admitted, or nil.
    func expressionProblem(nodesFrom start: Int) -> String? {
        if let e = graph.limitError, !limitReported {
            limitReported = true
            return "\(e.message). \(Compilation.sizeAdvice)"
        }
        let ops = graph.foldOperations(nodesFrom: start)
        if ops > limits.maxFoldOperations {
            return "computing this from constants takes about \(ByteCount.operations(ops)) operations; an expression may take at most \(ByteCount.operations(limits.maxFoldOperations)). Compute it beforehand and pass the result as data"
        }
        return nil
    }

    /// Why validation will not compute `v` now (it would take more than
    /// ``ValidationLimits/maxValidationOperations``), or nil.
    func validationFoldProblem(_ v: Value) -> String? {
        let ops = graph.foldOperations(of: v.node)
        guard ops > limits.maxValidationOperations else { return nil }
        return "computing it takes about \(ByteCount.operations(ops)) operations; a value needed to validate the spec (a plate size, an init) may take at most \(ByteCount.operations(limits.maxValidationOperations)). Compute it beforehand and pass it as a number or as data"
    }

    /// Checks made once the program is built, before the tape is compiled: the graph's size
    /// against the job's memory and all its constants' cost together.
    func withinJobBudget() -> Bool {
        guard withinMemory(JobMemoryEstimate(uncompiled: graph, sites: siteInfos, particles: spec.inference.particles)) else { return false }
        let ops = graph.foldOperations(nodesFrom: 0)
        if ops > limits.maxFoldOperations {
            diagnostics.report(JSONPointer(), "computing the job's constants takes about \(ByteCount.operations(ops)) operations; the limit is \(ByteCount.operations(limits.maxFoldOperations)). Compute large constant values beforehand and pass them as data")
            return false
        }
        return true
    }

    /// Reports (at the root) a job whose estimate passes ``ValidationLimits/maxJobBytes``.
    func withinMemory(_ estimate: JobMemoryEstimate) -> Bool {
        guard estimate.total > limits.maxJobBytes else { return true }
        diagnostics.report(JSONPointer(), "the job needs about \(ByteCount.text(estimate.total)) while it runs (\(estimate.breakdown)); the limit is \(ByteCount.text(limits.maxJobBytes)). \(Compilation.sizeAdvice)")
        return false
    }
}
