import Distributions
import Autodiff

/// Why a program cannot be built or compiled: each case names the site or parameter.
public enum ProgramError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A name used twice (sites, params or plates).
    case duplicateName(String)
    /// A model latent site without a guide site of the same name, or the reverse.
    case unmatchedSite(String)
    /// An estimator that does not fit the site's distribution.
    case estimatorMismatch(site: String, String)
    /// A site's batch shape does not fit its plates.
    case plateMismatch(site: String, String)
    /// The graph or a distribution refused something.
    case invalid(String)

    public var description: String {
        switch self {
        case let .duplicateName(n): "the name '\(n)' is used twice"
        case let .unmatchedSite(n): "site '\(n)': \("the model and the guide must both have it")"
        case let .estimatorMismatch(s, m): "site '\(s)': \(m)"
        case let .plateMismatch(s, m): "site '\(s)': \(m)"
        case let .invalid(m): m
        }
    }

    static func wrap(_ site: String, _ e: DistributionError) -> ProgramError { .invalid("site '\(site)': \(e)") }
}
