import JSON
import Numerics
import Inference

/// A job as the JSON language describes it (job-spec.md), decoded and checked for form: every
/// part keeps the pointer it came from so later checks (names, shapes, estimators) can say
/// where a problem is.
public struct JobSpec: Sendable {
    public var name: String
    public var data: [DataEntry]
    public var plates: [PlateSpec]
    public var model: [Statement]
    public var guide: GuideSpec
    /// Site name → estimator, overriding the one written on the guide site.
    public var estimators: [(site: String, estimator: EstimatorSpec, pointer: JSONPointer)]
    public var inference: InferenceSpec
    /// Labels for finding the job again (`GET /v1/jobs?tag=`).
    public var tags: [String] = []
    /// Params initialised from an earlier job's fitted params (warm start).
    public var initFrom: WarmStartSpec? = nil
    /// Reference Gaussians, W₂ and coupled estimates (docs/transport.md).
    public var transport: TransportSpec? = nil
}

/// `init_from`: an earlier job whose fitted params initialise this job's params of the same
/// name. The service resolves a job id at submission to the params' values, stored with the
/// job (so a restart continues bit for bit); only the resolved form compiles.
public enum WarmStartSpec: Sendable {
    /// A job id, as a user writes it.
    case job(String, pointer: JSONPointer)
    /// The earlier job's constrained params by name, as the service stores them.
    case resolved(job: String, params: [(name: String, value: Tensor, pointer: JSONPointer)], pointer: JSONPointer)
}

/// A named data array (rectangular, finite), with the plates of its leading axes when it
/// declares them (`{"value": [...], "plates": ["g", "i"]}`): such data aligns with other values
/// by plate name and is cut along any of those plates that is subsampled.
public struct DataEntry: Sendable {
    public let name: String
    public let value: Tensor
    public let plates: [String]
    public let pointer: JSONPointer

    public init(name: String, value: Tensor, plates: [String] = [], pointer: JSONPointer) {
        self.name = name; self.value = value; self.plates = plates; self.pointer = pointer
    }
}

/// A plate: a size (number or expression such as `len(x)`) and an optional subsample size.
public struct PlateSpec: Sendable {
    public let name: String
    public let size: SizeSpec
    public let subsample: Int?
    public let pointer: JSONPointer
}

/// A plate size: a number, or an expression evaluated once against the data.
public enum SizeSpec: Sendable {
    case count(Int)
    case expression(String)
}

/// A value written in the spec: a constant (number or nested array) or an expression.
public enum ValueSpec: Sendable {
    case constant(Tensor)
    case expression(String)
}

/// One statement of a model or guide program.
public struct Statement: Sendable {
    public enum Kind: Sendable {
        /// A learnable tensor with its constrained initial value; `plates` names the plates of its
        /// leading axes (per-element params, cut along a subsampled plate), if it declares them.
        case param(init: ValueSpec, constraint: ConstraintSpec, learningRate: Double?, plates: [String])
        /// A named deterministic value.
        case `let`(ValueSpec)
        /// A random site; `obs` makes it an observation (model only).
        case sample(SampleSpec)
    }
    public let name: String
    public let kind: Kind
    public let pointer: JSONPointer
}

/// A sample statement's distribution, arguments, plates, event axes, estimator and observation.
public struct SampleSpec: Sendable {
    /// Canonical distribution name (aliases resolved).
    public let distribution: String
    /// The estimator implied by a Pyro alias (`OMTMultivariateNormal` → omt), if any.
    public let aliasEstimator: EstimatorSpec?
    public let args: [(name: String, value: ValueSpec, pointer: JSONPointer)]
    public let plates: [String]
    public let eventDims: Int
    public let estimator: EstimatorSpec?
    public let observed: ValueSpec?
}

/// A param's constraint (torch's `transform_to` names).
public enum ConstraintSpec: Sendable, Equatable {
    case real, positive, nonnegative, unitInterval, simplex, lowerCholesky
    case interval(Double, Double)
}

/// The guide: explicit statements, or an autoguide over every latent site of the model.
public enum GuideSpec: Sendable {
    case statements([Statement])
    case auto(AutoGuideSpec)
}

/// Pyro's AutoNormal / AutoMultivariateNormal / AutoDelta, in unconstrained space.
public struct AutoGuideSpec: Sendable {
    public enum Family: String, Sendable { case normal, mvn, delta }
    public let family: Family
    public let initScale: Double
    public let estimator: EstimatorSpec?
    public let pointer: JSONPointer
}

/// An estimator as written (name plus options), before it is checked against its site.
public struct EstimatorSpec: Sendable, Equatable {
    public let estimator: Estimator
    public let pointer: JSONPointer
}

/// The `inference` block.
public struct InferenceSpec: Sendable {
    public var elbo: ELBOKind = .tracegraph
    public var steps: Int = 1000
    public var particles: Int = 1
    public var seed: UInt64 = 0
    public var optimizer: OptimizerConfig = .adam(lr: 0.01)
    public var reportEvery: Int = 100
    public var maxSeconds: Double? = nil
    public var analyticEntropy = false
}
