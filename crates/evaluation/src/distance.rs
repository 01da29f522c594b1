//! Query × gallery distance matrices from feature matrices, through one multi-threaded GEMM
//! (`gemm` crate, blocked and SIMD) for the dot products and a parallel element-wise pass.

use rayon::prelude::*;
use reid_data::Features;
use serde::{Deserialize, Serialize};

/// How two embeddings are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// `‖q − g‖`.
    Euclidean,
    /// `‖q − g‖²` (re-ranking's original distance).
    SquaredEuclidean,
    /// `1 − cos(q, g)`, clipped at 0.
    Cosine,
}

/// Row-major `rows × cols` matrix of f32 values.
#[derive(Debug, Clone, PartialEq)]
pub struct DistMat {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl DistMat {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// `a · bᵀ` (`a.len() × b.len()`), computed by GEMM on the current rayon pool.
pub fn dot_products(a: &Features, b: &Features) -> DistMat {
    assert_eq!(a.dim, b.dim, "feature dimensions differ");
    DistMat {
        rows: a.len(),
        cols: b.len(),
        data: dot_rows(&a.data, &b.data, a.dim),
    }
}

/// `a · bᵀ` for row-major matrices of `dim` columns (`a.len() / dim` × `b.len() / dim`, row-major),
/// by GEMM on the current rayon pool.
pub fn dot_rows(a: &[f32], b: &[f32], dim: usize) -> Vec<f32> {
    let k = dim;
    let m = a.len().checked_div(k).unwrap_or(0);
    let n = b.len().checked_div(k).unwrap_or(0);
    let mut data = vec![0.0f32; m * n];
    if m > 0 && n > 0 {
        // SAFETY: the pointers cover m×k (a), n×k (b) and m×n (data) row-major f32 values,
        // matching the strides given; `data` is not aliased.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                data.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                1,
                k as isize,
                b.as_ptr(),
                k as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::Rayon(rayon::current_num_threads()),
            );
        }
    }
    data
}

fn squared_norms(f: &Features) -> Vec<f32> {
    f.rows().map(|r| r.iter().map(|x| x * x).sum()).collect()
}

/// The `a.len() × b.len()` distance matrix between the rows of `a` and `b`.
pub fn distance_matrix(a: &Features, b: &Features, distance: Distance) -> DistMat {
    let mut m = dot_products(a, b);
    let (na, nb) = (squared_norms(a), squared_norms(b));
    let cols = m.cols;
    if cols == 0 {
        return m;
    }
    m.data
        .par_chunks_mut(cols)
        .zip(na.par_iter())
        .for_each(|(row, &qa)| {
            for (v, &gb) in row.iter_mut().zip(&nb) {
                let dot = *v;
                *v = match distance {
                    Distance::Euclidean => (qa + gb - 2.0 * dot).max(0.0).sqrt(),
                    Distance::SquaredEuclidean => (qa + gb - 2.0 * dot).max(0.0),
                    Distance::Cosine => {
                        let denom = (qa * gb).sqrt();
                        if denom > 0.0 {
                            (1.0 - dot / denom).max(0.0)
                        } else {
                            1.0
                        }
                    }
                };
            }
        });
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_distances() {
        let a = Features::from_rows(3, vec![1.0, 0.0, 0.0, 0.0, 3.0, 4.0]);
        let b = Features::from_rows(3, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 5.0]);
        let e = distance_matrix(&a, &b, Distance::Euclidean);
        let sq = distance_matrix(&a, &b, Distance::SquaredEuclidean);
        let c = distance_matrix(&a, &b, Distance::Cosine);
        for i in 0..2 {
            for j in 0..3 {
                let (x, y) = (a.row(i), b.row(j));
                let d2: f32 = x.iter().zip(y).map(|(p, q)| (p - q) * (p - q)).sum();
                let dot: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
                let cos = dot
                    / (x.iter().map(|v| v * v).sum::<f32>() * y.iter().map(|v| v * v).sum::<f32>())
                        .sqrt();
                assert!((sq.row(i)[j] - d2).abs() < 1e-5);
                assert!((e.row(i)[j] - d2.sqrt()).abs() < 1e-5);
                assert!((c.row(i)[j] - (1.0 - cos).max(0.0)).abs() < 1e-6);
            }
        }
        // Identical directions: cosine distance is clipped at exactly 0, never negative.
        assert_eq!(c.row(0)[1], 0.0);
    }
}
