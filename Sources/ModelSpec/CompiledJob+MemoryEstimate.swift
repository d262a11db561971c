import Numerics

extension CompiledJob {
    /// Bytes the job holds while it runs: the compiled tape's arenas, and the guide draws the
    /// result's summaries keep (about a thousand per element of every latent site, and a
    /// sorted copy). What a worker's memory limit is derived from.
    public var estimatedBytes: Int {
        let draws = sites.reduce(0) { $0 &+ 2 &* 8 &* 1000 &* Shape.count($1.shape) }
        return program.tape.arenaBytes &+ draws
    }
}
