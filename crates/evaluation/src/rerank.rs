//! k-reciprocal re-ranking (Zhong et al., CVPR 2017) in the feature-based form of
//! reid-strong-baseline / TAO (`re_ranking.k1 / k2 / lambda_value`), exact but without any
//! N × N matrix (N = query + gallery).
//!
//! Memory: the squared Euclidean distances are computed by GEMM for blocks of `BLOCK_ROWS`
//! rows against all N rows; from each block row only its maximum (the normaliser), its nearest
//! `max(k1 + 1, k2)` indices (stable order) and, for query rows, the normalised gallery
//! distances (the λ term of the output) are kept. The few distances the expansion weights need
//! are recomputed from the features. V is sparse (per row, sorted `(column, weight)` pairs),
//! its inverted index (column → gallery rows) is a compressed sparse column array, and the only
//! dense result is the final query × gallery matrix. At Market-1501 scale (19,281 × 2,048-d)
//! the peak is the concatenated features, the output and one distance block (the ignored test
//! `rerank_market_scale_memory` measures 561 MB peak RSS, its input features included).

use crate::distance::{DistMat, dot_products};
use rayon::prelude::*;
use reid_data::Features;

/// Re-ranking settings (TAO's re_ranking.k1 / k2 / lambda_value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReRankParams {
    pub k1: usize,
    pub k2: usize,
    pub lambda_value: f32,
}

/// Rows per GEMM block: one block holds `BLOCK_ROWS × N` distances (≈ 40 MB at N = 19,281).
const BLOCK_ROWS: usize = 512;

/// One sparse row of V: `(column, weight)` pairs sorted by column, weights non-zero.
type SparseRow = Vec<(u32, f32)>;

/// Final re-ranked query × gallery distances (query.len() rows, gallery.len() cols).
///
/// The features are used as given (the caller L2-normalises them, as TAO does); the original
/// distance is their squared Euclidean distance, each row divided by its maximum (rows whose
/// maximum is 0 stay 0), with ties ranked by lower index. Neighbourhood sizes are clamped to N
/// (`k1 + 1`, `round(k1 / 2) + 1` and `k2`); `k2 ≤ 1` means no query expansion. An empty
/// query or gallery gives an empty matrix. Panics if both sides are non-empty with different
/// feature dimensions.
pub fn re_rank(query: &Features, gallery: &Features, params: &ReRankParams) -> DistMat {
    let (q, g) = (query.len(), gallery.len());
    let mut out = DistMat {
        rows: q,
        cols: g,
        data: vec![0.0; q * g],
    };
    if q == 0 || g == 0 {
        return out;
    }
    assert_eq!(query.dim, gallery.dim, "feature dimensions differ");
    let all = Features::from_rows(query.dim, [&query.data[..], &gallery.data[..]].concat());
    let n = q + g;
    let fwd = params.k1.saturating_add(1).min(n);
    let fwd_half = (round_half_even(params.k1) + 1).min(n);
    let k2 = params.k2.clamp(1, n);

    let nb = Neighbours::new(&all, fwd.max(k2), &mut out);
    let v: Vec<SparseRow> = (0..n)
        .into_par_iter()
        .map(|i| nb.weights(&all, i, fwd, fwd_half))
        .collect();
    let v = if k2 > 1 {
        (0..n)
            .into_par_iter()
            .map(|i| mean_rows(&v, &nb.top(i)[..k2]))
            .collect()
    } else {
        v
    };

    // Inverted index over the gallery rows: column c → (gallery row, V weight) pairs.
    let mut start = vec![0usize; n + 1];
    for &(c, _) in v[q..].iter().flatten() {
        start[c as usize + 1] += 1;
    }
    for c in 0..n {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut inv = vec![(0u32, 0.0f32); start[n]];
    for (j, row) in v[q..].iter().enumerate() {
        for &(c, w) in row {
            inv[fill[c as usize]] = (j as u32, w);
            fill[c as usize] += 1;
        }
    }

    let lambda = params.lambda_value;
    out.data.par_chunks_mut(g).zip(&v[..q]).for_each_init(
        || vec![0.0f32; g],
        |temp_min, (row, vi)| {
            temp_min.fill(0.0);
            for &(c, w) in vi {
                for &(j, wj) in &inv[start[c as usize]..start[c as usize + 1]] {
                    temp_min[j as usize] += w.min(wj);
                }
            }
            for (o, &t) in row.iter_mut().zip(temp_min.iter()) {
                let jaccard = 1.0 - t / (2.0 - t);
                *o = jaccard * (1.0 - lambda) + *o * lambda;
            }
        },
    );
    out
}

/// numpy's `np.around(k / 2)`: round half to even.
fn round_half_even(k: usize) -> usize {
    let h = k / 2;
    if k % 2 == 1 && h % 2 == 1 { h + 1 } else { h }
}

/// Per row: the divisor of its distances and its nearest `width` rows (nearest first).
struct Neighbours {
    width: usize,
    top: Vec<u32>,
    scale: Vec<f32>,
    sq_norms: Vec<f32>,
}

impl Neighbours {
    /// Fills the struct block by block and writes each query row's normalised distances to
    /// the gallery into `out` (query rows are the first `out.rows` rows of `all`).
    fn new(all: &Features, width: usize, out: &mut DistMat) -> Self {
        let n = all.len();
        let sq_norms: Vec<f32> = all.rows().map(|r| r.iter().map(|x| x * x).sum()).collect();
        let mut top = vec![0u32; n * width];
        let mut scale = vec![1.0f32; n];
        for s in (0..n).step_by(BLOCK_ROWS) {
            let e = (s + BLOCK_ROWS).min(n);
            let block = Features::from_rows(all.dim, all.data[s * all.dim..e * all.dim].to_vec());
            let mut d = dot_products(&block, all);
            d.data
                .par_chunks_mut(n)
                .zip(top[s * width..e * width].par_chunks_mut(width))
                .zip(&mut scale[s..e])
                .enumerate()
                .for_each(|(r, ((row, top), scale))| {
                    let i = s + r;
                    for (x, &nj) in row.iter_mut().zip(&sq_norms) {
                        *x = (sq_norms[i] + nj - 2.0 * *x).max(0.0);
                    }
                    row[i] = 0.0;
                    let max = row.iter().copied().fold(0.0f32, f32::max);
                    if max > 0.0 {
                        *scale = max;
                        row.iter_mut().for_each(|x| *x /= max);
                    }
                    let by_dist = |a: &u32, b: &u32| {
                        row[*a as usize].total_cmp(&row[*b as usize]).then(a.cmp(b))
                    };
                    let mut idx: Vec<u32> = (0..n as u32).collect();
                    if width < n {
                        idx.select_nth_unstable_by(width - 1, by_dist);
                    }
                    idx.truncate(width);
                    idx.sort_unstable_by(by_dist);
                    top.copy_from_slice(&idx);
                });
            for i in s..e.min(out.rows) {
                let (q, g) = (out.rows, out.cols);
                out.data[i * g..(i + 1) * g].copy_from_slice(&d.row(i - s)[q..]);
            }
        }
        Self {
            width,
            top,
            scale,
            sq_norms,
        }
    }

    fn top(&self, i: usize) -> &[u32] {
        &self.top[i * self.width..(i + 1) * self.width]
    }

    /// The rows among `i`'s `len` nearest that have `i` among their own `len` nearest.
    fn reciprocal(&self, i: usize, len: usize) -> Vec<u32> {
        let me = i as u32;
        let fwd = &self.top(i)[..len];
        fwd.iter()
            .copied()
            .filter(|&j| self.top(j as usize)[..len].contains(&me))
            .collect()
    }

    /// Row `i` of V: the k-reciprocal set, expanded by every candidate's smaller reciprocal set
    /// that lies more than 2/3 inside it, weighted by `exp(−distance)` and normalised to sum 1.
    fn weights(&self, all: &Features, i: usize, fwd: usize, fwd_half: usize) -> SparseRow {
        let recip = self.reciprocal(i, fwd);
        let mut set = recip.clone();
        for &c in &recip {
            let cand = self.reciprocal(c as usize, fwd_half);
            let inside = cand.iter().filter(|x| recip.contains(x)).count();
            if 3 * inside > 2 * cand.len() {
                set.extend(cand);
            }
        }
        set.sort_unstable();
        set.dedup();
        let x = all.row(i);
        let w: Vec<f32> = set
            .iter()
            .map(|&j| {
                let j = j as usize;
                let dot: f32 = x.iter().zip(all.row(j)).map(|(a, b)| a * b).sum();
                let d = (self.sq_norms[i] + self.sq_norms[j] - 2.0 * dot).max(0.0);
                let d = if i == j { 0.0 } else { d / self.scale[i] };
                (-d).exp()
            })
            .collect();
        let sum: f32 = w.iter().sum();
        set.into_iter().zip(w).map(|(j, w)| (j, w / sum)).collect()
    }
}

/// The mean of the sparse rows `rows` of `v` (query expansion).
fn mean_rows(v: &[SparseRow], rows: &[u32]) -> SparseRow {
    let mut all: SparseRow = rows
        .iter()
        .flat_map(|&r| v[r as usize].iter().copied())
        .collect();
    all.sort_by_key(|&(c, _)| c);
    let mut out: SparseRow = Vec::with_capacity(all.len());
    for (c, w) in all {
        match out.last_mut() {
            Some((last, sum)) if *last == c => *sum += w,
            _ => out.push((c, w)),
        }
    }
    let k = rows.len() as f32;
    out.iter_mut().for_each(|(_, w)| *w /= k);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    /// One case of `tests/data/rerank_reference.json`, written by `scripts/rerank_reference.py`.
    #[derive(Deserialize)]
    struct Case {
        name: String,
        k1: usize,
        k2: usize,
        lambda_value: f32,
        dim: usize,
        query: Vec<f32>,
        gallery: Vec<f32>,
        expected: Vec<Vec<f32>>,
        ranking: Option<Vec<Vec<usize>>>,
    }

    fn cases() -> Vec<Case> {
        serde_json::from_str(include_str!("../tests/data/rerank_reference.json")).unwrap()
    }

    fn run(c: &Case) -> DistMat {
        let params = ReRankParams {
            k1: c.k1,
            k2: c.k2,
            lambda_value: c.lambda_value,
        };
        let query = Features::from_rows(c.dim, c.query.clone());
        re_rank(
            &query,
            &Features::from_rows(c.dim, c.gallery.clone()),
            &params,
        )
    }

    #[test]
    fn rerank_matches_numpy_reference() {
        let cases = cases();
        assert!(cases.len() >= 5);
        for c in &cases {
            let got = run(c);
            assert_eq!(
                (got.rows, got.cols),
                (c.expected.len(), c.expected[0].len()),
                "{}",
                c.name
            );
            for (i, want) in c.expected.iter().enumerate() {
                for (j, (&a, &b)) in got.row(i).iter().zip(want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-5,
                        "{} [{i},{j}]: got {a}, want {b}",
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn rerank_ranking_matches_reference() {
        let cases = cases();
        let c = cases.iter().find(|c| c.ranking.is_some()).unwrap();
        let got = run(c);
        for (i, want) in c.ranking.as_ref().unwrap().iter().enumerate() {
            let row = got.row(i);
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| row[a].total_cmp(&row[b]));
            assert_eq!(&order, want, "{} query {i}", c.name);
        }
    }

    #[test]
    fn rerank_edge_cases() {
        let f = Features::from_rows(2, vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8]);
        let empty = Features::new(2);
        let p = ReRankParams {
            k1: 20,
            k2: 6,
            lambda_value: 0.3,
        };
        let d = re_rank(&empty, &f, &p);
        assert_eq!((d.rows, d.cols, d.data.len()), (0, 3, 0));
        let d = re_rank(&f, &Features::default(), &p);
        assert_eq!((d.rows, d.cols, d.data.len()), (3, 0, 0));
        // k1, k2 beyond N, k2 = 0, identical features (all distances 0): finite values only.
        let same = Features::from_rows(2, vec![0.6, 0.8, 0.6, 0.8]);
        for (k1, k2) in [(20, 6), (0, 0), (1, 1), (100, 100)] {
            let p = ReRankParams { k1, k2, ..p };
            for (a, b) in [(&f, &f), (&same, &same), (&f, &same)] {
                let d = re_rank(a, b, &p);
                assert_eq!(d.data.len(), a.len() * b.len());
                assert!(
                    d.data.iter().all(|x| x.is_finite()),
                    "{k1} {k2}: {:?}",
                    d.data
                );
            }
        }
    }

    /// Market-1501 scale (3,368 + 15,913 rows, 2,048-d): peak RSS must stay ≤ 2 GB. Linux only;
    /// `cargo test -p reid-evaluation rerank_market_scale -- --ignored`.
    #[test]
    #[ignore = "Market-1501 scale: about 20 s of GEMM on 2 cores"]
    fn rerank_market_scale_memory() {
        let (q, g, dim, ids) = (3368, 15913, 2048, 751);
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let centres: Vec<f32> = (0..ids * dim).map(|_| rand()).collect();
        let mut make = |rows: usize| {
            let data = (0..rows * dim)
                .map(|k| centres[(k / dim * 7919) % ids * dim + k % dim] + 0.5 * rand())
                .collect();
            let mut f = Features::from_rows(dim, data);
            f.l2_normalize();
            f
        };
        let (query, gallery) = (make(q), make(g));
        let p = ReRankParams {
            k1: 20,
            k2: 6,
            lambda_value: 0.3,
        };
        let d = re_rank(&query, &gallery, &p);
        assert_eq!((d.rows, d.cols), (q, g));
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        let kb: usize = hwm.split_whitespace().nth(1).unwrap().parse().unwrap();
        eprintln!("peak RSS {} MB", kb / 1024);
        assert!(kb <= 2 * 1024 * 1024, "{hwm}");
    }
}
