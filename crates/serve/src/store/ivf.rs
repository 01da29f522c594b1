//! Approximate search for large galleries: an inverted-file index (IVF) with 8-bit codes.
//! Spherical k-means centroids (trained by GEMM on a sample) split the gallery into lists; each
//! list keeps its members' ids and codes (the unit vector × 127, rounded). A query scores the
//! centroids, scans the codes of the `nprobe` nearest lists, and hands the best candidates back
//! for exact re-scoring with the full vectors.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use reid_evaluation::distance::dot_rows;
use std::collections::HashMap;

/// k-means iterations when training.
const KMEANS_ITERATIONS: usize = 10;
/// Training sample per list.
const SAMPLE_PER_LIST: usize = 48;

pub struct Ivf {
    dim: usize,
    /// `nlist × dim`, unit rows.
    centroids: Vec<f32>,
    lists: Vec<List>,
    /// id → (list, position in the list).
    slots: HashMap<u64, (u32, u32)>,
    /// Gallery size the centroids were trained for.
    pub trained_for: usize,
}

#[derive(Default)]
struct List {
    ids: Vec<u64>,
    /// `ids.len() × dim` codes.
    codes: Vec<i8>,
}

fn encode(v: &[f32], out: &mut Vec<i8>) {
    out.extend(
        v.iter()
            .map(|x| (x * 127.0).round().clamp(-127.0, 127.0) as i8),
    );
}

fn code_dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

/// Index of the largest value in each `n`-wide row of `scores`.
fn argmax_rows(scores: &[f32], n: usize) -> Vec<u32> {
    scores
        .par_chunks(n)
        .map(|row| {
            row.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i as u32)
        })
        .collect()
}

impl Ivf {
    /// Trains `nlist` centroids on a sample of `vectors` (unit rows, `ids` aligned) and indexes
    /// all of them.
    pub fn build(ids: &[u64], vectors: &[f32], dim: usize, nlist: usize) -> Self {
        let n = ids.len();
        let nlist = nlist.clamp(1, n.max(1));
        let mut rng = StdRng::seed_from_u64(0x1df);
        let sample: Vec<usize> = if n <= nlist * SAMPLE_PER_LIST {
            (0..n).collect()
        } else {
            rand::seq::index::sample(&mut rng, n, nlist * SAMPLE_PER_LIST).into_vec()
        };
        let sample_vecs: Vec<f32> = sample
            .iter()
            .flat_map(|&i| vectors[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        let mut centroids: Vec<f32> = sample_vecs[..nlist * dim].to_vec();
        for _ in 0..KMEANS_ITERATIONS {
            let assign = argmax_rows(&dot_rows(&sample_vecs, &centroids, dim), nlist);
            let mut sums = vec![0.0f32; nlist * dim];
            let mut counts = vec![0usize; nlist];
            for (row, &c) in sample_vecs.chunks_exact(dim).zip(&assign) {
                let c = c as usize;
                counts[c] += 1;
                sums[c * dim..(c + 1) * dim]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(s, v)| *s += v);
            }
            for (c, sum) in sums.chunks_exact_mut(dim).enumerate() {
                if counts[c] == 0 {
                    // An empty list restarts at a random sample point.
                    let r = rng.random_range(0..sample.len());
                    sum.copy_from_slice(&sample_vecs[r * dim..(r + 1) * dim]);
                }
                reid_data::l2_normalize(sum);
            }
            centroids = sums;
        }
        let mut ivf = Self {
            dim,
            lists: (0..nlist).map(|_| List::default()).collect(),
            centroids,
            slots: HashMap::with_capacity(n),
            trained_for: n,
        };
        ivf.add(ids, vectors);
        ivf
    }

    /// Adds unit vectors (`ids` aligned) to their nearest lists.
    pub fn add(&mut self, ids: &[u64], vectors: &[f32]) {
        let nlist = self.lists.len();
        const BLOCK: usize = 16_384;
        for (block, chunk) in vectors.chunks(BLOCK * self.dim).enumerate() {
            let assign = argmax_rows(&dot_rows(chunk, &self.centroids, self.dim), nlist);
            for (i, (row, &c)) in chunk.chunks_exact(self.dim).zip(&assign).enumerate() {
                let id = ids[block * BLOCK + i];
                let list = &mut self.lists[c as usize];
                self.slots.insert(id, (c, list.ids.len() as u32));
                list.ids.push(id);
                encode(row, &mut list.codes);
            }
        }
    }

    pub fn remove(&mut self, id: u64) {
        let Some((c, pos)) = self.slots.remove(&id) else {
            return;
        };
        let (dim, pos) = (self.dim, pos as usize);
        let list = &mut self.lists[c as usize];
        let last = list.ids.len() - 1;
        if pos != last {
            list.codes
                .copy_within(last * dim..(last + 1) * dim, pos * dim);
            let moved = list.ids[last];
            self.slots.insert(moved, (c, pos as u32));
        }
        list.ids.swap_remove(pos);
        list.codes.truncate(last * dim);
    }

    /// The ids of the (about) `candidates` nearest items to the unit vector `query`, from its
    /// `nprobe` nearest lists, best first by code score.
    pub fn candidates(&self, query: &[f32], nprobe: usize, candidates: usize) -> Vec<u64> {
        let scores = dot_rows(query, &self.centroids, self.dim);
        let mut order: Vec<usize> = (0..self.lists.len()).collect();
        let nprobe = nprobe.clamp(1, order.len());
        order.select_nth_unstable_by(nprobe - 1, |&a, &b| scores[b].total_cmp(&scores[a]));
        let mut q = Vec::with_capacity(self.dim);
        encode(query, &mut q);
        let mut found: Vec<(i32, u64)> = order[..nprobe]
            .par_iter()
            .flat_map_iter(|&l| {
                let list = &self.lists[l];
                let mut best: Vec<(i32, u64)> = list
                    .codes
                    .chunks_exact(self.dim)
                    .zip(&list.ids)
                    .map(|(code, &id)| (code_dot(&q, code), id))
                    .collect();
                if best.len() > candidates {
                    best.select_nth_unstable_by(candidates - 1, |a, b| b.0.cmp(&a.0));
                    best.truncate(candidates);
                }
                best
            })
            .collect();
        if found.len() > candidates {
            found.select_nth_unstable_by(candidates - 1, |a, b| b.0.cmp(&a.0));
            found.truncate(candidates);
        }
        found.sort_unstable_by_key(|&(score, _)| std::cmp::Reverse(score));
        found.into_iter().map(|(_, id)| id).collect()
    }

    pub fn nlist(&self) -> usize {
        self.lists.len()
    }

    /// Items indexed.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len()
    }
}
