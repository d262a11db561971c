import Autodiff
import Distributions

/// The parameter nodes of a distribution, found by reflection over its stored properties
/// (nodes, and nested distributions such as a relaxed law's categorical). Setup-time only.
func parameterNodes(of dist: any Distribution) -> [Node] {
    var out: [Node] = []
    func visit(_ value: Any, depth: Int) {
        if let n = value as? Node { out.append(n); return }
        guard depth < 4 else { return }
        for child in Mirror(reflecting: value).children { visit(child.value, depth: depth + 1) }
    }
    visit(dist, depth: 0)
    return out
}
