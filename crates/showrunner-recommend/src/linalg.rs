//! Small dense kernels for the hot loops (dot products, axpy, a packed Cholesky solve), and
//! the bridge to faer for the big ones (Gram matrices, inverses).
//!
//! The `_s` kernels are generic over pulp's `Simd` and run inside `pulp::Arch::dispatch`,
//! which picks the widest instruction set the CPU has at run time (AVX-512, AVX2+FMA, ...),
//! so one portable binary uses fused multiply-adds where they exist, without `unsafe`. The
//! plain kernels (eight accumulators, vectorised by the compiler for the baseline target)
//! serve the cold paths.

use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, MatRef, Side};

/// `a · b` with the CPU's vector width (pulp's `Simd`), two accumulators deep.
#[inline(always)]
pub fn dot_s<S: pulp::Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (ah, at) = S::as_simd_f32s(&a[..n]);
    let (bh, bt) = S::as_simd_f32s(&b[..n]);
    let mut acc0 = simd.splat_f32s(0.0);
    let mut acc1 = simd.splat_f32s(0.0);
    let mut pairs_a = ah.chunks_exact(2);
    let mut pairs_b = bh.chunks_exact(2);
    for (x, y) in (&mut pairs_a).zip(&mut pairs_b) {
        acc0 = simd.mul_add_f32s(x[0], y[0], acc0);
        acc1 = simd.mul_add_f32s(x[1], y[1], acc1);
    }
    for (x, y) in pairs_a.remainder().iter().zip(pairs_b.remainder()) {
        acc0 = simd.mul_add_f32s(*x, *y, acc0);
    }
    let mut sum = simd.reduce_sum_f32s(simd.add_f32s(acc0, acc1));
    for (x, y) in at.iter().zip(bt) {
        sum += x * y;
    }
    sum
}

/// `y += alpha * x` with the CPU's vector width.
#[inline(always)]
pub fn axpy_s<S: pulp::Simd>(simd: S, alpha: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    let (xh, xt) = S::as_simd_f32s(&x[..n]);
    let (yh, yt) = S::as_mut_simd_f32s(&mut y[..n]);
    let a = simd.splat_f32s(alpha);
    for (yi, xi) in yh.iter_mut().zip(xh) {
        *yi = simd.mul_add_f32s(a, *xi, *yi);
    }
    for (yi, xi) in yt.iter_mut().zip(xt) {
        *yi += alpha * xi;
    }
}

/// `out = m * v` for a square row-major `f x f` matrix, with the CPU's vector width.
#[inline(always)]
pub fn symv_s<S: pulp::Simd>(simd: S, m: &[f32], v: &[f32], out: &mut [f32]) {
    let f = v.len();
    for (r, o) in out.iter_mut().enumerate() {
        *o = dot_s(simd, &m[r * f..(r + 1) * f], v);
    }
}

#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut sum = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += x * y;
    }
    sum
}

/// `y += alpha * x`
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// `Yᵀ Y` of a row-major `n x f` matrix, as a row-major `f x f` matrix, plus `reg` on the
/// diagonal.
pub fn gram(y: &[f32], n: usize, f: usize, reg: f32) -> Vec<f32> {
    let m = MatRef::from_row_major_slice(y, n, f);
    let g: Mat<f32> = m.transpose() * m;
    let mut out = vec![0f32; f * f];
    for r in 0..f {
        for c in 0..f {
            out[r * f + c] = g[(r, c)];
        }
        out[r * f + r] += reg;
    }
    out
}

/// Solves `A x = b` for a symmetric positive definite row-major `f x f` matrix `a`, in
/// place (`a` is overwritten by its Cholesky factor, `b` by `x`). Returns false when `a` is
/// not positive definite.
pub fn cholesky_solve(a: &mut [f32], b: &mut [f32]) -> bool {
    let f = b.len();
    for j in 0..f {
        let mut d = a[j * f + j] as f64;
        for k in 0..j {
            d -= (a[j * f + k] as f64).powi(2);
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[j * f + j] = d as f32;
        for i in j + 1..f {
            let s = dot(&a[i * f..i * f + j], &a[j * f..j * f + j]);
            a[i * f + j] = (a[i * f + j] - s) / d as f32;
        }
    }
    // L y = b
    for i in 0..f {
        let s = dot(&a[i * f..i * f + i], &b[..i]);
        b[i] = (b[i] - s) / a[i * f + i];
    }
    // Lᵀ x = y
    for i in (0..f).rev() {
        let mut s = b[i];
        for k in i + 1..f {
            s -= a[k * f + i] * b[k];
        }
        b[i] = s / a[i * f + i];
    }
    true
}

/// The inverse of a symmetric positive definite matrix (row-major `n x n`, f64), by
/// Cholesky. None when it is not positive definite.
pub fn spd_inverse(g: &[f64], n: usize) -> Option<Mat<f64>> {
    let m = MatRef::from_row_major_slice(g, n, n);
    let llt = m.llt(Side::Lower).ok()?;
    Some(llt.inverse())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2], [2, 3]], x = [1, 2] → b = [8, 8]
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let mut b = vec![8.0, 8.0];
        assert!(cholesky_solve(&mut a, &mut b));
        assert!(
            (b[0] - 1.0).abs() < 1e-5 && (b[1] - 2.0).abs() < 1e-5,
            "{b:?}"
        );
        let mut not_pd = vec![1.0, 2.0, 2.0, 1.0];
        assert!(!cholesky_solve(&mut not_pd, &mut [1.0, 1.0]));
    }

    #[test]
    fn gram_and_inverse_agree_with_hand_computation() {
        let y = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // 3 x 2
        let g = gram(&y, 3, 2, 1.0);
        assert_eq!(g, vec![35.0 + 1.0, 44.0, 44.0, 56.0 + 1.0]);
        let inv = spd_inverse(&[2.0, 0.0, 0.0, 4.0], 2).unwrap();
        assert!((inv[(0, 0)] - 0.5).abs() < 1e-12 && (inv[(1, 1)] - 0.25).abs() < 1e-12);
        assert!(spd_inverse(&[0.0, 1.0, 1.0, 0.0], 2).is_none());
        assert_eq!(dot(&[1.0; 19], &[2.0; 19]), 38.0);
    }
}
