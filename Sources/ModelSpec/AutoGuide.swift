import Autodiff
import Distributions
import Inference
import Numerics

extension Compilation {
    /// Pyro's autoguides need the model's latent sites before the guide can be built: they are
    /// not yet supported by this compiler, and say so.
    func autoGuide(_ auto: AutoGuideSpec) {
        d.report(auto.pointer.appending("auto"), "autoguides ('\(auto.family.rawValue)') are not supported yet; write the guide's statements explicitly")
    }
}
