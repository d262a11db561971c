import CLAPACK
import CVecMath
import Numerics

/// Layout of the OMT backward rule's temporaries in the tape's scratch arena (offsets in
/// doubles). Sized once at compile time so a replay allocates nothing.
struct OMTScratch {
    let r: Int, g: Int, vectors: Int, m: Int, t1: Int, w: Int
    let lambda: Int, gR: Int, zV: Int, gV: Int, work: Int, iwork: Int
    /// Eigensolver workspace: `lwork` doubles and (LAPACK's, above
    /// ``LinearAlgebra/smallEigenLimit``) `liwork` 32-bit integers.
    let lwork: Int, liwork: Int
    /// Doubles needed in all (at least the forward kernel's d² for Lᵀ, and for 17 ≤ d ≤
    /// `SMP_OMT_MAX` `smp_omt_gradient`'s workspace, which it lays out itself from the start).
    let count: Int

    init(samples s: Int, d: Int) {
        let dd = d * d
        (lwork, liwork) = d <= Int(SME_FIXED_WIDTH) ? (sme_omt_workspace(), 0)
            : d <= LinearAlgebra.smallEigenLimit
            ? (LinearAlgebra.smallEigenWorkspace(n: d), 0) : LinearAlgebra.syevWorkspace(n: d)
        r = 0; g = dd; vectors = 2 * dd; m = 3 * dd; t1 = 4 * dd; w = 5 * dd
        lambda = 6 * dd; gR = lambda + d; zV = gR + s * d; gV = zV + s * d
        work = gV + s * d
        iwork = work + lwork
        count = Swift.max(iwork + (liwork + 1) / 2, d <= Int(SMP_OMT_MAX) ? smp_omt_workspace(d, s) : 0)
    }
}

/// Layout of the AVF backward rule's temporaries in the tape's scratch arena (offsets in doubles).
struct AVFScratch {
    let g: Int, xi: Int, h: Int
    /// Doubles needed in all (at least the forward kernel's d² for Lᵀ).
    let count: Int

    init(samples s: Int, d: Int) {
        g = 0; xi = d * d; h = 2 * d * d
        count = h + s * d
    }
}

extension Tape {
    /// Forward of `mvnSampleOMT` and `mvnSampleAVF`: z = loc + ε Lᵀ. The product is the one the
    /// reparameterised path computes (`matmul` by `transpose(L)`, then `add`), so for the same
    /// noise the values are bitwise those of `MultivariateNormal.rsample`: a thin product (one
    /// or two particles at moderate d, where `gemm` runs `SmallMatrix`'s loop on the materialised
    /// Lᵀ) by `smp_rows_times_transpose`, the same sums in the same order read straight from L
    /// (a d×d transposition per step saved: ≈ 3 µs at d = 50); otherwise through the same `gemm`
    /// call on the same materialised Lᵀ. OMT keeps z₀ = ε Lᵀ in its auxiliary values: its
    /// backward rule needs z − loc, and taking it from the product avoids the cancellation of
    /// subtracting a large loc.
    static func mvnSampleForward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ sc: UnsafeMutablePointer<Double>) {
        let rows = ins.p0, d = ins.p1
        let loc = v + ins.a, l = v + ins.b, eps = v + ins.c, o = v + ins.out
        let z0 = ins.op == .mvnSampleOMT ? v + ins.aux : o
        if SmallMatrix.takes(rows, d, d) {
            smp_rows_times_transpose(rows, d, eps, l, z0)
        } else {
            let lt = sc
            for i in 0..<d { for j in 0..<d { lt[i * d + j] = l[j * d + i] } }
            gemm(false, false, rows, d, d, 1, eps, d, lt, d, 0, z0, d)
        }
        for s in 0..<rows { for j in 0..<d { o[s * d + j] = loc[j] + z0[s * d + j] } }
    }

    /// ∂loc += Σ_s g_s over the `rows` rows of `go`.
    @inline(__always)
    static func accumulateRowSum(_ go: UnsafeMutablePointer<Double>, rows: Int, d: Int, into gl: UnsafeMutablePointer<Double>) {
        for s in 0..<rows { for j in 0..<d { gl[j] += go[s * d + j] } }
    }

    /// Backward of `mvnSampleOMT`, estimators.md §2.2, with g the output adjoint (`[S, d]`),
    /// ε the noise and z₀ = ε Lᵀ:
    /// 1. ∂loc = Σ_s g_s.
    /// 2. R = L⁻ᵀ (triangular solve), Σ⁻¹ = R Rᵀ (at least its lower triangle).
    /// 3. G_ab = ½ Σ_s [ g_{s,a} ε_{s,b} + z₀_{s,a} (L⁻¹ g_s)_b ].
    /// 4. Σ⁻¹ = V diag(λ) Vᵀ by the project's small symmetric eigensolver up to
    ///    ``LinearAlgebra/smallEigenLimit`` (``LinearAlgebra/smallEigen(n:a:lda:eigenvalues:work:)``),
    ///    LAPACK dsyevd above (``LinearAlgebra/syev(n:a:lda:eigenvalues:work:lwork:iwork:liwork:)``).
    ///    Pyro takes an SVD of Σ⁻¹ + 1e-8 (the jitter added to every entry); no jitter is added
    ///    here, so results differ from Pyro's by O(1e-8) relative, and agree with the formula.
    /// 5–6. §2.2's Y (the solution of Σ⁻¹Y + YΣ⁻¹ = C + Cᵀ, C = z₀ᵀg) enters the gradient
    ///    only through the commutator Σ⁻¹Y − YΣ⁻¹, which in the eigenbasis is the matrix
    ///    M_ij = (λ_i − λ_j)/(λ_i + λ_j) · Ŝ_ij with Ŝ = Ĉ + Ĉᵀ, Ĉ = (z₀V)ᵀ(gV). So
    ///    ½(Σ⁻¹Y − YΣ⁻¹)R = ½ V M Vᵀ R = ½ V M Wᵀ with W = Rᵀ V: two products and a
    ///    triangular one instead of §2.2's five (V Y Vᵀ, Σ⁻¹Y, YΣ⁻¹, then R).
    /// 7. ∂L += tril(G).
    /// Cost O(d³) + O(S d²) per replay, all temporaries in the scratch arena (``OMTScratch``).
    /// For d ≤ 16 steps 2–7 run in one C routine on rows of 16 lanes (`sme_omt_gradient`,
    /// CVecMath's `SmallEigen.c`): at these sizes OpenBLAS's per-call cost (a lock and packing)
    /// and the loops' remainders outweighed the arithmetic. For 17 ≤ d ≤ 64 on AVX-512
    /// (`ownProducts`, ``Tape/omtUsesOwnProducts``) they run in one C routine too
    /// (`smp_omt_gradient`, CVecMath's `SmallProducts.c`), which forms only what the rule reads:
    /// the lower triangle of Σ⁻¹, W from the triangular R, the lower triangle of the last product
    /// with the rank-S terms of G added into it, and ∂L directly. Otherwise (no AVX-512, or
    /// d > 64) the steps below run on OpenBLAS.
    /// Reads only the lower triangle of L. Returns false when the eigensolver fails to
    /// converge; ∂L is then left untouched.
    static func mvnSampleOMTBackward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ g: UnsafeMutablePointer<Double>,
                                     _ sc: UnsafeMutablePointer<Double>, ownProducts: Bool) -> Bool {
        let rows = ins.p0, d = ins.p1, dd = d * d, go = g + ins.gOut
        if ins.gA >= 0 { accumulateRowSum(go, rows: rows, d: d, into: g + ins.gA) }
        guard ins.gB >= 0 else { return true }
        let l = v + ins.b, eps = v + ins.c, z0 = v + ins.aux
        let w = OMTScratch(samples: rows, d: d)
        if d <= Int(SME_FIXED_WIDTH) { return sme_omt_gradient(d, rows, l, eps, z0, go, g + ins.gB, sc + w.work) == 0 }
        if ownProducts && d <= Int(SMP_OMT_MAX) { return smp_omt_gradient(d, rows, l, eps, z0, go, g + ins.gB, sc) == 0 }
        let r = sc + w.r, gm = sc + w.g, vec = sc + w.vectors, lam = sc + w.lambda
        let m = sc + w.m, t1 = sc + w.t1, wm = sc + w.w, gR = sc + w.gR, zV = sc + w.zV, gV = sc + w.gV
        let n32 = Int32(d)

        // 2. R solves R Lᵀ = I (`dtrsm` on I); the lower triangle of Σ⁻¹ = R Rᵀ (`dsyrk`) goes
        //    straight to the eigensolver's buffer.
        r.update(repeating: 0, count: dd)
        for i in 0..<d { r[i * d + i] = 1 }
        SmallMatrix.solveRows(true, rows: d, d: d, l, r)
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, n32, n32, 1, r, n32, 0, vec, n32)

        // 3. Row s of g R is (L⁻¹ g_s)ᵀ; G = ½ (gᵀ ε + z₀ᵀ (g R)).
        gemm(false, false, rows, d, d, 1, go, d, r, d, 0, gR, d)
        gemm(true, false, d, d, rows, 0.5, go, d, eps, d, 0, gm, d)
        gemm(true, false, d, d, rows, 0.5, z0, d, gR, d, 1, gm, d)

        // 4. Eigenvectors (columns of V) and eigenvalues of Σ⁻¹.
        let info = d <= LinearAlgebra.smallEigenLimit
            ? LinearAlgebra.smallEigen(n: d, a: vec, lda: d, eigenvalues: lam, work: sc + w.work)
            : (sc + w.iwork).withMemoryRebound(to: Int32.self, capacity: w.liwork) { iw in
                LinearAlgebra.syev(n: d, a: vec, lda: d, eigenvalues: lam, work: sc + w.work, lwork: w.lwork, iwork: iw, liwork: w.liwork)
            }
        if info != 0 { return false }

        // 5. Ĉ = (z₀ V)ᵀ (g V), then M = (λ_i − λ_j)/(λ_i + λ_j) ⊙ (Ĉ + Ĉᵀ) (antisymmetric).
        gemm(false, false, rows, d, d, 1, z0, d, vec, d, 0, zV, d)
        gemm(false, false, rows, d, d, 1, go, d, vec, d, 0, gV, d)
        gemm(true, false, d, d, rows, 1, zV, d, gV, d, 0, m, d)
        for i in 0..<d {
            m[i * d + i] = 0
            for j in 0..<i {
                // The ratio (|·| ≤ 1) first: Ĉ/(λ_i + λ_j) scales as |L|³ and leaves the range
                // for |L| beyond about 10^±100, where the rule itself (invariant under L → cL) does not.
                let q = (lam[i] - lam[j]) / (lam[i] + lam[j]) * (m[i * d + j] + m[j * d + i])
                m[i * d + j] = q
                m[j * d + i] = -q
            }
        }

        // 6. G += ½ (V M) Wᵀ with W = Rᵀ V (R is upper triangular); ours as Wᵀ = Vᵀ R.
        wm.update(from: vec, count: dd)
        cblas_dtrmm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, n32, n32, 1, r, n32, wm, n32)
        gemm(false, false, d, d, d, 1, vec, d, m, d, 0, t1, d)
        gemm(false, true, d, d, d, 0.5, t1, d, wm, d, 1, gm, d)

        // 7. ∂L = tril(G).
        let gl = g + ins.gB
        for a in 0..<d { for b in 0...a { gl[a * d + b] += gm[a * d + b] } }
        return true
    }

    /// Backward of `mvnSampleAVF`, estimators.md §2.3, with g the output adjoint (`[S, d]`),
    /// ε the noise and the control variate B, C (`[K, d]`):
    /// 1. ∂loc = Σ_s g_s; G_ab = Σ_s g_{s,a} ε_{s,b} (the reparam gradient).
    /// 2. h_s = g_s L, E_ab = Σ_s h_{s,a} ε_{s,b}, Ξ = E − Eᵀ.
    /// 3. G_ab += Σ_k Ξ_ab B_ka C_kb; ∂L += tril(G).
    /// 4. ∂B_ka += Σ_b ∂L_ab C_kb Ξ_ab, ∂C_kb += Σ_a ∂L_ab B_ka Ξ_ab, with ∂L = tril(G) of this
    ///    node alone. These are not gradients of the loss (the loss does not depend on B, C):
    ///    they are the gradient of the estimator's second moment ½‖∂L‖², which the control
    ///    variate minimises with its own optimiser.
    /// Cost O(S d²) + O(K d²). L is read as stored (its upper triangle must be zero).
    static func mvnSampleAVFBackward(_ ins: Instruction, _ v: UnsafeMutablePointer<Double>, _ g: UnsafeMutablePointer<Double>,
                                     _ sc: UnsafeMutablePointer<Double>, _ tbl: UnsafeMutablePointer<Int>) {
        let rows = ins.p0, d = ins.p1, k = ins.p2, go = g + ins.gOut
        if ins.gA >= 0 { accumulateRowSum(go, rows: rows, d: d, into: g + ins.gA) }
        let operands = tbl + ins.p3
        let gbOffset = operands[2], gcOffset = operands[3]
        guard ins.gB >= 0 || gbOffset >= 0 || gcOffset >= 0 else { return }
        let l = v + ins.b, eps = v + ins.c, cvB = v + operands[0], cvC = v + operands[1]
        let w = AVFScratch(samples: rows, d: d)
        let gm = sc + w.g, xi = sc + w.xi, h = sc + w.h

        // 1. G = gᵀ ε.
        gemm(true, false, d, d, rows, 1, go, d, eps, d, 0, gm, d)

        // 2. h = g L, E = hᵀ ε (in xi), Ξ = E − Eᵀ.
        gemm(false, false, rows, d, d, 1, go, d, l, d, 0, h, d)
        gemm(true, false, d, d, rows, 1, h, d, eps, d, 0, xi, d)
        for i in 0..<d {
            xi[i * d + i] = 0
            for j in 0..<i { let e = xi[i * d + j] - xi[j * d + i]; xi[i * d + j] = e; xi[j * d + i] = -e }
        }

        // 3. The control variate on the lower triangle (all that ∂L keeps); G becomes tril(G).
        for a in 0..<d {
            for b in 0...a {
                var bc = 0.0
                for q in 0..<k { bc += cvB[q * d + a] * cvC[q * d + b] }
                gm[a * d + b] += xi[a * d + b] * bc
            }
            for b in (a + 1)..<d { gm[a * d + b] = 0 }
        }
        if ins.gB >= 0 {
            let gl = g + ins.gB
            for a in 0..<d { for b in 0...a { gl[a * d + b] += gm[a * d + b] } }
        }

        // 4. Control-variate gradients (b ≤ a: ∂L is lower triangular).
        if gbOffset >= 0 {
            let gb = g + gbOffset
            for q in 0..<k {
                for a in 0..<d {
                    var s = 0.0
                    for b in 0...a { s += gm[a * d + b] * cvC[q * d + b] * xi[a * d + b] }
                    gb[q * d + a] += s
                }
            }
        }
        if gcOffset >= 0 {
            let gc = g + gcOffset
            for q in 0..<k {
                for b in 0..<d {
                    var s = 0.0
                    for a in b..<d { s += gm[a * d + b] * cvB[q * d + a] * xi[a * d + b] }
                    gc[q * d + b] += s
                }
            }
        }
    }
}
