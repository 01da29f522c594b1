//! Market-1501 protocol metrics from a query × gallery distance matrix: for each query, gallery
//! items with the same pid *and* camera are dropped, queries with no remaining positive are
//! skipped, and CMC, AP and INP are averaged over the rest. The ranking is by (distance, gallery
//! index), i.e. a stable sort; only the positives' ranks are needed, so each row costs
//! O(G log P) instead of a full sort.

use crate::distance::DistMat;
use rayon::prelude::*;
use serde::Serialize;

/// Person and camera ids of one side (query or gallery), index-aligned with the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    pub pids: &'a [i32],
    pub camids: &'a [u32],
}

/// Averaged metrics, all fractions in 0..1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// `cmc[k]`: share of valid queries whose first true match is within the top k+1.
    pub cmc: Vec<f64>,
    #[serde(rename = "mAP")]
    pub map: f64,
    #[serde(rename = "mINP")]
    pub minp: f64,
    pub num_valid_query: usize,
}

impl Metrics {
    /// Rank-k accuracy (k ≥ 1); the last CMC value when the curve is shorter.
    pub fn rank(&self, k: usize) -> f64 {
        self.cmc
            .get(k - 1)
            .or(self.cmc.last())
            .copied()
            .unwrap_or(0.0)
    }
}

/// Per-query outcome: the 0-based ranks of its true matches among the kept gallery items.
struct QueryRanks(Vec<usize>);

/// Ranks (0-based, in the kept list) of the true matches of a query given its distance `row`,
/// ascending; `None` when the query has no true match left after the same-camera removal.
fn positive_ranks(row: &[f32], q_pid: i32, q_cam: u32, gallery: Labels) -> Option<QueryRanks> {
    let mut positives: Vec<(f32, usize)> = (0..row.len())
        .filter(|&j| gallery.pids[j] == q_pid && gallery.camids[j] != q_cam)
        .map(|j| (row[j], j))
        .collect();
    if positives.is_empty() {
        return None;
    }
    let key_lt = |a: (f32, usize), b: (f32, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).is_lt();
    positives.sort_by(|&a, &b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    // bucket[t]: kept items ranked before positive t but not before positive t−1.
    let mut bucket = vec![0usize; positives.len() + 1];
    for (j, &d) in row.iter().enumerate() {
        if gallery.pids[j] == q_pid && gallery.camids[j] == q_cam {
            continue;
        }
        let first_after = positives.partition_point(|&p| !key_lt((d, j), p));
        bucket[first_after] += 1;
    }
    let mut before = 0;
    let ranks = positives
        .iter()
        .enumerate()
        .map(|(t, _)| {
            before += bucket[t];
            before
        })
        .collect();
    Some(QueryRanks(ranks))
}

/// CMC up to `max_rank` (capped at the gallery size), mAP and mINP over the valid queries.
pub fn evaluate(dist: &DistMat, query: Labels, gallery: Labels, max_rank: usize) -> Metrics {
    assert_eq!(dist.rows, query.pids.len());
    assert_eq!(dist.cols, gallery.pids.len());
    let max_rank = max_rank.min(dist.cols);
    let per_query: Vec<QueryRanks> = (0..dist.rows)
        .into_par_iter()
        .filter_map(|i| positive_ranks(dist.row(i), query.pids[i], query.camids[i], gallery))
        .collect();
    let n = per_query.len();
    if n == 0 {
        return Metrics {
            cmc: vec![0.0; max_rank],
            map: 0.0,
            minp: 0.0,
            num_valid_query: 0,
        };
    }
    let mut cmc = vec![0.0; max_rank];
    let (mut ap_sum, mut inp_sum) = (0.0, 0.0);
    for QueryRanks(ranks) in &per_query {
        for hit in cmc.iter_mut().skip(ranks[0]) {
            *hit += 1.0;
        }
        let ap: f64 = ranks
            .iter()
            .enumerate()
            .map(|(t, &r)| (t + 1) as f64 / (r + 1) as f64)
            .sum();
        ap_sum += ap / ranks.len() as f64;
        inp_sum += ranks.len() as f64 / (ranks[ranks.len() - 1] + 1) as f64;
    }
    let n_f = n as f64;
    Metrics {
        cmc: cmc.into_iter().map(|c| c / n_f).collect(),
        map: ap_sum / n_f,
        minp: inp_sum / n_f,
        num_valid_query: n,
    }
}

/// The `k` best gallery indices for query `qi` under the protocol (same pid + camera removed),
/// best first, ties to the lower index.
pub fn top_k(dist: &DistMat, qi: usize, query: Labels, gallery: Labels, k: usize) -> Vec<usize> {
    let row = dist.row(qi);
    let mut kept: Vec<usize> = (0..row.len())
        .filter(|&j| !(gallery.pids[j] == query.pids[qi] && gallery.camids[j] == query.camids[qi]))
        .collect();
    let cmp = |a: &usize, b: &usize| row[*a].total_cmp(&row[*b]).then(a.cmp(b));
    if kept.len() > k && k > 0 {
        kept.select_nth_unstable_by(k - 1, cmp);
    }
    kept.truncate(k);
    kept.sort_by(cmp);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'a>(pids: &'a [i32], camids: &'a [u32]) -> Labels<'a> {
        Labels { pids, camids }
    }

    fn mat(rows: usize, data: Vec<f32>) -> DistMat {
        DistMat {
            rows,
            cols: data.len() / rows,
            data,
        }
    }

    /// Worked by hand: query A (pid 1, cam 1) and query C (pid 2, cam 1) are valid, query B
    /// (pid 3, cam 1) has its only match in its own camera and is skipped.
    #[test]
    fn hand_computed_case_with_junk_distractors_same_camera_and_ties() {
        // Gallery: 0 pid1/c1 (same cam as A: removed for A), 1 pid2/c2, 2 pid1/c2, 3 pid0/c3
        // (distractor), 4 pid1/c3, 5 pid3/c1, 6 pid5/c2, 7 pid2/c3.
        let g_pids = [1, 2, 1, 0, 1, 3, 5, 2];
        let g_cams = [1, 2, 2, 3, 3, 1, 2, 3];
        let q_pids = [1, 3, 2];
        let q_cams = [1, 1, 1];
        #[rustfmt::skip]
        let d = mat(3, vec![
            // A: kept order 1(w) 2(p) 3(w) 4(p) 5.. → positives at ranks 1 and 3.
            0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.9, 0.9,
            // B: its only positive (5) is in its own camera.
            0.5, 0.5, 0.5, 0.5, 0.5, 0.0, 0.5, 0.5,
            // C: 7 (p) first at 0.1; 6 (w, index 6) and 1 (p, index 1) tie at 0.3 → 1 goes first.
            0.9, 0.3, 0.9, 0.9, 0.9, 0.9, 0.3, 0.1,
        ]);
        let m = evaluate(&d, labels(&q_pids, &q_cams), labels(&g_pids, &g_cams), 50);
        assert_eq!(m.num_valid_query, 2);
        // A: AP = (1/2 + 2/4)/2 = 0.5, INP = 2/4. C: ranks 0 and 1 → AP = 1, INP = 1.
        assert!((m.map - 0.75).abs() < 1e-12, "{}", m.map);
        assert!((m.minp - 0.75).abs() < 1e-12, "{}", m.minp);
        assert_eq!(m.cmc.len(), 8);
        assert_eq!(m.rank(1), 0.5);
        assert_eq!(m.rank(2), 1.0);
        assert_eq!(m.rank(10), 1.0);
    }

    #[test]
    fn ties_go_to_the_lower_gallery_index() {
        // Gallery 0 (wrong) and 1 (right) tie: the wrong one ranks first.
        let d = mat(1, vec![0.3, 0.3, 0.1]);
        let m = evaluate(
            &d,
            labels(&[2], &[1]),
            Labels {
                pids: &[5, 2, 2],
                camids: &[2, 2, 3],
            },
            50,
        );
        // Positives at ranks 0 and 2: AP = (1 + 2/3)/2, INP = 2/3.
        assert!((m.map - 5.0 / 6.0).abs() < 1e-12);
        assert!((m.minp - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.cmc, vec![1.0, 1.0, 1.0]);
    }

    /// The reference protocol, literally: full stable argsort, remove, cumsum.
    fn naive(d: &DistMat, q: Labels, g: Labels) -> (Vec<f64>, f64, f64) {
        let (mut cmc, mut ap, mut inp, mut n) = (vec![0.0; d.cols], 0.0, 0.0, 0.0);
        for i in 0..d.rows {
            let mut order: Vec<usize> = (0..d.cols).collect();
            order.sort_by(|&a, &b| d.row(i)[a].total_cmp(&d.row(i)[b]));
            let matches: Vec<bool> = order
                .iter()
                .filter(|&&j| !(g.pids[j] == q.pids[i] && g.camids[j] == q.camids[i]))
                .map(|&j| g.pids[j] == q.pids[i])
                .collect();
            if !matches.contains(&true) {
                continue;
            }
            n += 1.0;
            let first = matches.iter().position(|&m| m).unwrap();
            cmc.iter_mut().skip(first).for_each(|c| *c += 1.0);
            let (mut hits, mut sum, mut last) = (0.0, 0.0, 0);
            for (r, &m) in matches.iter().enumerate() {
                if m {
                    hits += 1.0;
                    sum += hits / (r + 1) as f64;
                    last = r;
                }
            }
            ap += sum / hits;
            inp += hits / (last + 1) as f64;
        }
        (cmc.iter().map(|c| c / n).collect(), ap / n, inp / n)
    }

    #[test]
    fn agrees_with_the_literal_protocol_on_random_data_with_ties() {
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let (nq, ng) = (40, 120);
        let q_pids: Vec<i32> = (0..nq).map(|_| (next() % 15) as i32 + 1).collect();
        let q_cams: Vec<u32> = (0..nq).map(|_| next() % 3).collect();
        let g_pids: Vec<i32> = (0..ng).map(|_| (next() % 16) as i32).collect();
        let g_cams: Vec<u32> = (0..ng).map(|_| next() % 3).collect();
        // Coarse values so that many distances tie.
        let d = mat(
            nq,
            (0..nq * ng).map(|_| (next() % 20) as f32 / 10.0).collect(),
        );
        let (q, g) = (labels(&q_pids, &q_cams), labels(&g_pids, &g_cams));
        let m = evaluate(&d, q, g, ng);
        let (cmc, map, minp) = naive(&d, q, g);
        assert!(m.num_valid_query > 20);
        assert!((m.map - map).abs() < 1e-12 && (m.minp - minp).abs() < 1e-12);
        for (a, b) in m.cmc.iter().zip(&cmc) {
            assert!((a - b).abs() < 1e-12);
        }
        let top = top_k(&d, 0, q, g, 5);
        let mut order: Vec<usize> = (0..ng)
            .filter(|&j| !(g_pids[j] == q_pids[0] && g_cams[j] == q_cams[0]))
            .collect();
        order.sort_by(|&a, &b| d.row(0)[a].total_cmp(&d.row(0)[b]));
        assert_eq!(top, order[..5]);
    }

    #[test]
    fn no_valid_query_gives_zeros() {
        let d = mat(1, vec![0.1, 0.2]);
        let m = evaluate(
            &d,
            labels(&[1], &[1]),
            Labels {
                pids: &[1, 2],
                camids: &[1, 1],
            },
            50,
        );
        assert_eq!(m.num_valid_query, 0);
        assert_eq!(m.cmc, vec![0.0, 0.0]);
    }
}
