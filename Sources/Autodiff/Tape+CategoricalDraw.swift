import CVecMath

extension Tape {
    /// Rows of a plate the fused categorical kernel takes per block: the block's noise,
    /// normalisation and draw stay in L1 (and every block starts at a multiple of 64 elements,
    /// so the vector kernels treat each element as the per-node graph's single calls do).
    static let categoricalBlockRows = 64

    /// `categoricalDrawPlate` forward (``OpCode/categoricalDrawPlate``): per block of rows, the
    /// uniforms of the site's stream, Gumbel noise (two vector logs an entry), the log-softmax
    /// of the logits (one vector exp an entry, one vector log a row), the draw (first largest
    /// log q + G), its log-density, and the probabilities kept in `aux` for the backward pass.
    static func categoricalDrawForward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                       _ tbl: UnsafeMutablePointer<Int>, _ sc: UnsafeMutablePointer<Double>, seed: UInt64, step: UInt64) {
        let outs = tbl + ins.pointee.p3
        // The noise node this replaces fills its uniforms from word step·2³² of its stream.
        svm_categorical_draw(v + ins.pointee.a, ins.pointee.p0, ins.pointee.p1, seed, UInt64(ins.pointee.p2), step << 32,
                             v + ins.pointee.out, v + outs[0], v + ins.pointee.aux, sc)
        // The gathers at the draw: out_r = table[entry[z_r]] (the draw is an exact class index).
        let k = ins.pointee.p1
        for i in 0..<ins.pointee.p4 {
            let gather = outs + 2 + i * (4 + k)
            svm_gather_at_draw(v + ins.pointee.out, ins.pointee.p0, v + gather[0], gather + 4, v + gather[2])
        }
    }

    /// `categoricalDrawPlate` backward: the log-density's adjoint into the logits,
    /// g·([j = z] − q_j) an entry, in one pass with no transcendental, and each gather's into
    /// its table. The draw itself carries no gradient.
    static func categoricalDrawBackward(_ ins: UnsafeMutablePointer<Instruction>, _ v: UnsafeMutablePointer<Double>,
                                        _ g: UnsafeMutablePointer<Double>, _ tbl: UnsafeMutablePointer<Int>) {
        let outs = tbl + ins.pointee.p3
        if ins.pointee.gA >= 0 && outs[1] >= 0 {
            svm_categorical_draw_backward(ins.pointee.p0, ins.pointee.p1, v + ins.pointee.out, v + ins.pointee.aux, g + outs[1],
                                          g + ins.pointee.gA)
        }
        // Each gather's adjoint into its table, rows in order (as the broadcast's scatter-add
        // sums them).
        let k = ins.pointee.p1
        for i in 0..<ins.pointee.p4 {
            let gather = outs + 2 + i * (4 + k)
            guard gather[1] >= 0, gather[3] >= 0 else { continue }
            svm_scatter_at_draw(v + ins.pointee.out, ins.pointee.p0, g + gather[3], gather + 4, g + gather[1])
        }
    }
}
