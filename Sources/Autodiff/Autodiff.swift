// The compiled reverse-mode graph; see Graph.swift.
