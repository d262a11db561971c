// Estimators, ELBOs, optimisers and the SVI loop on the Autodiff graph.
