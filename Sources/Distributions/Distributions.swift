// Distributions with torch semantics, built on the Autodiff graph.
