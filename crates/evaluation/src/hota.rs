//! HOTA, Higher Order Tracking Accuracy (Luiten et al., IJCV 2021), as TrackEval computes it: at
//! each localisation threshold α = 0.05, 0.10, …, 0.95 the detection accuracy DetA (with DetRe,
//! DetPr), the association accuracy AssA (with AssRe, AssPr), the localisation accuracy LocA and
//! HOTA = √(DetA · AssA); the reported numbers are their means over the 19 thresholds. Boxes are
//! matched per frame by the Hungarian algorithm on IoU weighted by how well the two identities
//! align over the whole sequence, the same matching for every α.

use crate::assignment::max_score_assignment;
use crate::mot::{EPS, Sequence};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// How many localisation thresholds HOTA averages over.
pub const ALPHA_COUNT: usize = 19;

/// TrackEval's localisation thresholds, `np.arange(0.05, 0.99, 0.05)`: 0.05 + 0.05·k.
pub fn alphas() -> [f64; ALPHA_COUNT] {
    std::array::from_fn(|k| 0.05 + k as f64 * 0.05)
}

/// The HOTA family, each the mean over the 19 thresholds, with the per-threshold values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotaMetrics {
    #[serde(rename = "HOTA")]
    pub hota: f64,
    #[serde(rename = "DetA")]
    pub det_a: f64,
    #[serde(rename = "AssA")]
    pub ass_a: f64,
    #[serde(rename = "LocA")]
    pub loc_a: f64,
    #[serde(rename = "DetRe")]
    pub det_re: f64,
    #[serde(rename = "DetPr")]
    pub det_pr: f64,
    #[serde(rename = "AssRe")]
    pub ass_re: f64,
    #[serde(rename = "AssPr")]
    pub ass_pr: f64,
    /// Open-world tracking accuracy √(DetRe · AssA).
    #[serde(rename = "OWTA")]
    pub owta: f64,
    /// HOTA at the lowest threshold, α = 0.05 (TrackEval's name).
    #[serde(rename = "HOTA(0)")]
    pub hota_0: f64,
    /// LocA at α = 0.05.
    #[serde(rename = "LocA(0)")]
    pub loc_a_0: f64,
    /// HOTA(0) · LocA(0).
    #[serde(rename = "HOTALocA(0)")]
    pub hota_loc_a_0: f64,
    pub per_alpha: HotaPerAlpha,
}

/// The HOTA family at each threshold of [`alphas`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotaPerAlpha {
    pub alpha: [f64; ALPHA_COUNT],
    #[serde(rename = "HOTA")]
    pub hota: [f64; ALPHA_COUNT],
    #[serde(rename = "DetA")]
    pub det_a: [f64; ALPHA_COUNT],
    #[serde(rename = "AssA")]
    pub ass_a: [f64; ALPHA_COUNT],
    #[serde(rename = "LocA")]
    pub loc_a: [f64; ALPHA_COUNT],
    #[serde(rename = "DetRe")]
    pub det_re: [f64; ALPHA_COUNT],
    #[serde(rename = "DetPr")]
    pub det_pr: [f64; ALPHA_COUNT],
    #[serde(rename = "AssRe")]
    pub ass_re: [f64; ALPHA_COUNT],
    #[serde(rename = "AssPr")]
    pub ass_pr: [f64; ALPHA_COUNT],
    #[serde(rename = "OWTA")]
    pub owta: [f64; ALPHA_COUNT],
    #[serde(rename = "HOTA_TP")]
    pub true_positives: [usize; ALPHA_COUNT],
    #[serde(rename = "HOTA_FN")]
    pub false_negatives: [usize; ALPHA_COUNT],
    #[serde(rename = "HOTA_FP")]
    pub false_positives: [usize; ALPHA_COUNT],
}

/// HOTA of `seq`. Empty cases follow TrackEval: no matches give DetA = AssA = HOTA = 0 and
/// LocA = 1, never NaN.
pub(crate) fn hota(seq: &Sequence) -> HotaMetrics {
    let alpha = alphas();
    let mut gt_count = vec![0.0f64; seq.gt_ids];
    let mut tracker_count = vec![0.0f64; seq.tracker_ids];
    // Σ over frames of each pair's share of the frame's similarity (TrackEval's
    // potential_matches_count): IoU / (row sum + column sum − IoU).
    let mut potential: HashMap<(usize, usize), f64> = HashMap::new();
    for step in &seq.steps {
        let row_sums: Vec<f64> = (0..step.gt.len())
            .map(|i| (0..step.tracker.len()).map(|j| step.iou(i, j)).sum())
            .collect();
        let col_sums: Vec<f64> = (0..step.tracker.len())
            .map(|j| (0..step.gt.len()).map(|i| step.iou(i, j)).sum())
            .collect();
        for (i, &g) in step.gt.iter().enumerate() {
            for (j, &t) in step.tracker.iter().enumerate() {
                let sim = step.iou(i, j);
                let denominator = col_sums[j] + row_sums[i] - sim;
                if sim > 0.0 && denominator > EPS {
                    *potential.entry((g, t)).or_default() += sim / denominator;
                }
            }
        }
        for &g in &step.gt {
            gt_count[g] += 1.0;
        }
        for &t in &step.tracker {
            tracker_count[t] += 1.0;
        }
    }
    // How well each pair of identities aligns over the sequence, as a Jaccard index.
    let alignment: HashMap<(usize, usize), f64> = potential
        .iter()
        .map(|(&(g, t), &p)| ((g, t), p / (gt_count[g] + tracker_count[t] - p)))
        .collect();

    let mut true_pos = [0usize; ALPHA_COUNT];
    let mut false_neg = [0usize; ALPHA_COUNT];
    let mut false_pos = [0usize; ALPHA_COUNT];
    let mut similarity_sum = [0.0f64; ALPHA_COUNT];
    // Frames in which each identity pair is matched, per threshold (in a fixed order, so that
    // the sums below come out the same on every run).
    let mut matches: BTreeMap<(usize, usize), [usize; ALPHA_COUNT]> = BTreeMap::new();
    for step in &seq.steps {
        let (rows, cols) = (step.gt.len(), step.tracker.len());
        if rows == 0 || cols == 0 {
            for a in 0..ALPHA_COUNT {
                false_neg[a] += rows;
                false_pos[a] += cols;
            }
            continue;
        }
        let alignment = &alignment;
        let scores: Vec<f64> = (0..rows)
            .flat_map(|i| {
                (0..cols).map(move |j| {
                    let pair = (step.gt[i], step.tracker[j]);
                    alignment.get(&pair).copied().unwrap_or(0.0) * step.iou(i, j)
                })
            })
            .collect();
        let pairs = max_score_assignment(&scores, rows, cols);
        for (a, &threshold) in alpha.iter().enumerate() {
            let kept: Vec<(usize, usize)> = pairs
                .iter()
                .copied()
                .filter(|&(i, j)| step.iou(i, j) >= threshold - EPS)
                .collect();
            true_pos[a] += kept.len();
            false_neg[a] += rows - kept.len();
            false_pos[a] += cols - kept.len();
            similarity_sum[a] += kept.iter().map(|&(i, j)| step.iou(i, j)).sum::<f64>();
            for &(i, j) in &kept {
                matches
                    .entry((step.gt[i], step.tracker[j]))
                    .or_insert([0; ALPHA_COUNT])[a] += 1;
            }
        }
    }

    let per_alpha = {
        let mut ass_a = [0.0; ALPHA_COUNT];
        let mut ass_re = [0.0; ALPHA_COUNT];
        let mut ass_pr = [0.0; ALPHA_COUNT];
        for (&(g, t), counts) in &matches {
            for a in 0..ALPHA_COUNT {
                let m = counts[a] as f64;
                ass_a[a] += m * m / (gt_count[g] + tracker_count[t] - m).max(1.0);
                ass_re[a] += m * m / gt_count[g].max(1.0);
                ass_pr[a] += m * m / tracker_count[t].max(1.0);
            }
        }
        let per_match = |sum: f64, a: usize| sum / (true_pos[a] as f64).max(1.0);
        let ratio = |num: usize, den: usize| num as f64 / (den as f64).max(1.0);
        let det_a: [f64; ALPHA_COUNT] =
            std::array::from_fn(|a| ratio(true_pos[a], true_pos[a] + false_neg[a] + false_pos[a]));
        let det_re: [f64; ALPHA_COUNT] =
            std::array::from_fn(|a| ratio(true_pos[a], true_pos[a] + false_neg[a]));
        let ass_a: [f64; ALPHA_COUNT] = std::array::from_fn(|a| per_match(ass_a[a], a));
        HotaPerAlpha {
            alpha,
            hota: std::array::from_fn(|a| (det_a[a] * ass_a[a]).sqrt()),
            det_a,
            ass_a,
            loc_a: std::array::from_fn(|a| {
                similarity_sum[a].max(1e-10) / (true_pos[a] as f64).max(1e-10)
            }),
            det_re,
            det_pr: std::array::from_fn(|a| ratio(true_pos[a], true_pos[a] + false_pos[a])),
            ass_re: std::array::from_fn(|a| per_match(ass_re[a], a)),
            ass_pr: std::array::from_fn(|a| per_match(ass_pr[a], a)),
            owta: std::array::from_fn(|a| (det_re[a] * ass_a[a]).sqrt()),
            true_positives: true_pos,
            false_negatives: false_neg,
            false_positives: false_pos,
        }
    };
    let mean = |v: &[f64; ALPHA_COUNT]| v.iter().sum::<f64>() / ALPHA_COUNT as f64;
    HotaMetrics {
        hota: mean(&per_alpha.hota),
        det_a: mean(&per_alpha.det_a),
        ass_a: mean(&per_alpha.ass_a),
        loc_a: mean(&per_alpha.loc_a),
        det_re: mean(&per_alpha.det_re),
        det_pr: mean(&per_alpha.det_pr),
        ass_re: mean(&per_alpha.ass_re),
        ass_pr: mean(&per_alpha.ass_pr),
        owta: mean(&per_alpha.owta),
        hota_0: per_alpha.hota[0],
        loc_a_0: per_alpha.loc_a[0],
        hota_loc_a_0: per_alpha.hota[0] * per_alpha.loc_a[0],
        per_alpha,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphas_are_numpys_arange() {
        // repr() of np.arange(0.05, 0.99, 0.05), element by element.
        let numpy = [
            0.05,
            0.1,
            0.15000000000000002,
            0.2,
            0.25,
            0.3,
            0.35000000000000003,
            0.4,
            0.45,
            0.5,
            0.55,
            0.6000000000000001,
            0.6500000000000001,
            0.7000000000000001,
            0.7500000000000001,
            0.8,
            0.8500000000000001,
            0.9000000000000001,
            0.9500000000000001,
        ];
        assert_eq!(alphas(), numpy);
    }
}
