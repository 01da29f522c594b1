//! Open-set verification metrics from a query × gallery distance matrix: the ROC curve (FAR, TAR
//! per distance threshold), the equal error rate and the TAR at fixed FAR targets.
//!
//! **Pairs.** Every (query, gallery) cell is one pair, except that a gallery item with the query's
//! pid *and* camera is dropped, as in the ranking protocol of [`crate::metrics`]. A pair is
//! *genuine* when the pids are equal and an *impostor* pair otherwise. Unlike the ranking metrics,
//! queries without any genuine pair still count: their impostor pairs are exactly the open-set
//! probes that verification is about.
//!
//! **Decisions.** Lower distance is more similar: a pair is accepted at threshold `t` when
//! `distance <= t`. FAR = accepted impostors / impostors, TAR = accepted genuine / genuine
//! pairs. A NaN distance (of either sign) is ranked after every number, as the least similar
//! pair there can be: it is accepted only by the last ROC point, whose threshold is NaN.
//!
//! **ROC.** One point per distinct distance (ascending), a point being the (FAR, TAR) after
//! accepting every pair up to that distance. The curve starts at (0, 0), "accept nothing", which
//! is not listed, and ends at (1, 1). Points strictly inside a vertical or horizontal run
//! (consecutive thresholds that add only genuine, or only impostor, pairs) lie on the straight
//! line through their neighbours and are dropped, which bounds the curve by 2 × `num_genuine` + 1
//! points and leaves the polyline, the EER and the TAR@FAR values unchanged.
//!
//! **EER.** The curve is taken as the polyline through (0, 0), the ROC points and (1, 1), i.e.
//! straight segments between consecutive thresholds (a group of tied pairs is accepted in
//! random order). Along it FNR − FAR, with FNR = 1 − TAR, falls from 1 to −1; the EER is the FAR
//! where it crosses 0, by linear interpolation on the first segment whose end has
//! FNR − FAR <= 0: `EER = FAR₀ + α (FAR₁ − FAR₀)`, `α = d₀ / (d₀ − d₁)`, `d = FNR − FAR`. There
//! FAR = FNR exactly, so the EER is also the FNR of that point.
//!
//! **TAR@FAR.** For a target `f` in [0, 1): the largest TAR among the ROC points (and the origin)
//! with FAR <= `f`, reported at the *smallest* threshold that reaches that TAR, i.e. the
//! operating point within the budget with the fewest false accepts (its FAR is
//! `far_achieved`). With fewer than 1/`f` impostor pairs the budget admits no false accept at
//! all, so the answer is the best point with FAR = 0 (below the most similar impostor); when no
//! such point accepts a genuine pair either, TAR is 0 and the threshold is `None` ("accept
//! nothing"), so the JSON never holds NaN.
//!
//! **Scale.** Genuine and impostor distances are copied once into two exactly-sized f32 vectors
//! (4 bytes a pair: about 214 MB for Market-1501's 53.6 M pairs), sorted in parallel and swept
//! together.

use crate::distance::DistMat;
use crate::metrics::Labels;
use rayon::prelude::*;
use serde::Serialize;
use std::cmp::Ordering;

/// The FAR targets `reid evaluate` reports.
pub const FAR_TARGETS: [f64; 3] = [1e-2, 1e-3, 1e-4];

/// One point of the ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    /// Distance threshold (accept when `distance <= threshold`); NaN for the last point when some
    /// distances are NaN.
    pub threshold: f64,
    /// False accept rate: share of impostor pairs accepted.
    pub far: f64,
    /// True accept rate: share of genuine pairs accepted.
    pub tar: f64,
}

/// Verification metrics; the vectors `far`, `tar`, `threshold` and `far_achieved` are
/// index-aligned with the FAR targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Equal error rate (FAR = FNR), in 0..1.
    pub eer: f64,
    /// The FAR targets.
    pub far: Vec<f64>,
    /// Largest TAR with FAR <= the target.
    pub tar: Vec<f64>,
    /// Smallest distance threshold giving that TAR; `None` when it is 0 (accept nothing).
    pub threshold: Vec<Option<f64>>,
    /// FAR at that threshold (<= the target).
    pub far_achieved: Vec<f64>,
    pub num_genuine: usize,
    pub num_impostor: usize,
    /// The ROC curve, for plotting; not serialised.
    #[serde(skip)]
    pub roc: Vec<RocPoint>,
}

/// Why verification metrics cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerificationError {
    /// The matrix and the label slices disagree in size.
    #[error(
        "distance matrix {rows}×{cols} ({len} values) does not fit the labels: (pids, camids) lengths {query:?} (query), {gallery:?} (gallery)"
    )]
    Shape {
        rows: usize,
        cols: usize,
        len: usize,
        query: (usize, usize),
        gallery: (usize, usize),
    },
    /// No genuine pair (same pid, other camera): TAR is undefined.
    #[error("no genuine pair (same pid, other camera): TAR is undefined")]
    NoGenuinePairs,
    /// No impostor pair (different pid): FAR is undefined.
    #[error("no impostor pair (different pid): FAR is undefined")]
    NoImpostorPairs,
    /// A FAR target outside [0, 1) (or NaN).
    #[error("FAR target {0} is not in [0, 1)")]
    FarTarget(f64),
}

/// Verification metrics of `dist` (query × gallery) at `far_targets` (e.g. [`FAR_TARGETS`]), the
/// pairs chosen as in the module documentation. Errors: labels that do not match the matrix,
/// no genuine or no impostor pair, a target outside [0, 1).
pub fn evaluate(
    dist: &DistMat,
    query: Labels,
    gallery: Labels,
    far_targets: &[f64],
) -> Result<Verification, VerificationError> {
    let fits = |l: Labels, n| l.pids.len() == n && l.camids.len() == n;
    if !fits(query, dist.rows)
        || !fits(gallery, dist.cols)
        || dist.data.len() != dist.rows * dist.cols
    {
        return Err(VerificationError::Shape {
            rows: dist.rows,
            cols: dist.cols,
            len: dist.data.len(),
            query: (query.pids.len(), query.camids.len()),
            gallery: (gallery.pids.len(), gallery.camids.len()),
        });
    }
    let (genuine, impostor) = split_pairs(dist, query, gallery);
    from_distances(genuine, impostor, far_targets)
}

/// Verification metrics from the distances of the genuine and the impostor pairs (any order),
/// with the errors of [`evaluate`] except the shape check.
pub fn from_distances(
    mut genuine: Vec<f32>,
    mut impostor: Vec<f32>,
    far_targets: &[f64],
) -> Result<Verification, VerificationError> {
    if let Some(&bad) = far_targets.iter().find(|f| !(0.0..1.0).contains(*f)) {
        return Err(VerificationError::FarTarget(bad));
    }
    if genuine.is_empty() {
        return Err(VerificationError::NoGenuinePairs);
    }
    if impostor.is_empty() {
        return Err(VerificationError::NoImpostorPairs);
    }
    genuine.par_sort_unstable_by(nan_last);
    impostor.par_sort_unstable_by(nan_last);
    let roc = roc_curve(&genuine, &impostor);
    let points: Vec<OperatingPoint> = far_targets.iter().map(|&f| at_far(&roc, f)).collect();
    Ok(Verification {
        eer: eer(&roc),
        far: far_targets.to_vec(),
        tar: points.iter().map(|p| p.tar).collect(),
        threshold: points.iter().map(|p| p.threshold).collect(),
        far_achieved: points.iter().map(|p| p.far).collect(),
        num_genuine: genuine.len(),
        num_impostor: impostor.len(),
        roc,
    })
}

/// Numbers ascending (`total_cmp`), then every NaN whatever its sign.
fn nan_last(a: &f32, b: &f32) -> Ordering {
    a.is_nan().cmp(&b.is_nan()).then_with(|| a.total_cmp(b))
}

/// The genuine and impostor distances of the kept pairs, each in an exactly-sized vector filled
/// row by row in parallel.
fn split_pairs(dist: &DistMat, query: Labels, gallery: Labels) -> (Vec<f32>, Vec<f32>) {
    let same = |i: usize, j: usize| gallery.pids[j] == query.pids[i];
    let excluded = |i: usize, j: usize| same(i, j) && gallery.camids[j] == query.camids[i];
    let counts: Vec<(usize, usize)> = (0..dist.rows)
        .into_par_iter()
        .map(|i| {
            let (mut genuine, mut dropped) = (0, 0);
            for j in 0..dist.cols {
                if excluded(i, j) {
                    dropped += 1;
                } else if same(i, j) {
                    genuine += 1;
                }
            }
            (genuine, dist.cols - genuine - dropped)
        })
        .collect();
    let mut genuine = vec![0.0f32; counts.iter().map(|c| c.0).sum()];
    let mut impostor = vec![0.0f32; counts.iter().map(|c| c.1).sum()];
    let g_rows = split_lengths(&mut genuine, counts.iter().map(|c| c.0));
    let i_rows = split_lengths(&mut impostor, counts.iter().map(|c| c.1));
    g_rows
        .into_par_iter()
        .zip(i_rows)
        .enumerate()
        .for_each(|(i, (g_out, i_out))| {
            let (mut g_out, mut i_out) = (g_out.iter_mut(), i_out.iter_mut());
            for (j, &d) in dist.row(i).iter().enumerate() {
                let slot = if excluded(i, j) {
                    None
                } else if same(i, j) {
                    g_out.next()
                } else {
                    i_out.next()
                };
                if let Some(slot) = slot {
                    *slot = d;
                }
            }
        });
    (genuine, impostor)
}

/// `v` cut into consecutive pieces of the given lengths (which sum to `v.len()`).
fn split_lengths(mut v: &mut [f32], lengths: impl Iterator<Item = usize>) -> Vec<&mut [f32]> {
    lengths
        .map(|n| {
            let (head, tail) = std::mem::take(&mut v).split_at_mut(n);
            v = tail;
            head
        })
        .collect()
}

/// The pairs at one distance: how many genuine and impostor.
struct Group {
    threshold: f64,
    genuine: usize,
    impostor: usize,
}

impl Group {
    /// `Some(true)`: genuine pairs only, `Some(false)`: impostors only, `None`: both.
    fn pure(&self) -> Option<bool> {
        match (self.genuine > 0, self.impostor > 0) {
            (true, true) => None,
            (g, _) => Some(g),
        }
    }
}

/// The groups of tied distances of two [`nan_last`]-sorted slices, ascending, the NaNs last as
/// one group. Equality is `==`, so −0 and +0 tie.
fn groups<'a>(genuine: &'a [f32], impostor: &'a [f32]) -> impl Iterator<Item = Group> + 'a {
    let split = |v: &'a [f32]| v.split_at(v.partition_point(|x| !x.is_nan()));
    let ((g_num, g_nan), (i_num, i_nan)) = (split(genuine), split(impostor));
    let (mut gi, mut ii) = (0, 0);
    let numbers = std::iter::from_fn(move || {
        let t = match (g_num.get(gi), i_num.get(ii)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&t), None) | (None, Some(&t)) => t,
            (None, None) => return None,
        };
        let run = |v: &[f32]| v.iter().take_while(|&&x| x == t).count();
        let group = Group {
            threshold: f64::from(t),
            genuine: run(&g_num[gi..]),
            impostor: run(&i_num[ii..]),
        };
        gi += group.genuine;
        ii += group.impostor;
        Some(group)
    });
    let nan = (!g_nan.is_empty() || !i_nan.is_empty()).then_some(Group {
        threshold: f64::NAN,
        genuine: g_nan.len(),
        impostor: i_nan.len(),
    });
    numbers.chain(nan)
}

/// The ROC points of two sorted, non-empty distance lists, without those inside vertical or
/// horizontal runs.
fn roc_curve(genuine: &[f32], impostor: &[f32]) -> Vec<RocPoint> {
    let (n_g, n_i) = (genuine.len() as f64, impostor.len() as f64);
    let (mut acc_g, mut acc_i) = (0usize, 0usize);
    let mut last_pure = None;
    let mut points = Vec::new();
    for group in groups(genuine, impostor) {
        let pure = group.pure();
        // The previous point lies on the segment from its predecessor to this one.
        if pure.is_some() && pure == last_pure {
            points.pop();
        }
        last_pure = pure;
        acc_g += group.genuine;
        acc_i += group.impostor;
        points.push(RocPoint {
            threshold: group.threshold,
            far: acc_i as f64 / n_i,
            tar: acc_g as f64 / n_g,
        });
    }
    points
}

/// The equal error rate of `roc` (see the module documentation); 1 for an empty curve.
fn eer(roc: &[RocPoint]) -> f64 {
    // The origin: FAR 0, FNR − FAR = 1.
    let (mut far0, mut d0) = (0.0, 1.0);
    for p in roc {
        let d = (1.0 - p.tar) - p.far;
        if d <= 0.0 {
            return far0 + d0 / (d0 - d) * (p.far - far0);
        }
        (far0, d0) = (p.far, d);
    }
    1.0
}

/// TAR, threshold and FAR of the operating point for one FAR target.
struct OperatingPoint {
    tar: f64,
    threshold: Option<f64>,
    far: f64,
}

/// The operating point for `target` (see the module documentation).
fn at_far(roc: &[RocPoint], target: f64) -> OperatingPoint {
    let within = &roc[..roc.partition_point(|p| p.far <= target)];
    match within.last() {
        Some(best) if best.tar > 0.0 => {
            let first = &within[within.partition_point(|p| p.tar < best.tar)];
            OperatingPoint {
                tar: first.tar,
                threshold: Some(first.threshold),
                far: first.far,
            }
        }
        _ => OperatingPoint {
            tar: 0.0,
            threshold: None,
            far: 0.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels<'a>(pids: &'a [i32], camids: &'a [u32]) -> Labels<'a> {
        Labels { pids, camids }
    }

    fn point(threshold: f64, far: f64, tar: f64) -> RocPoint {
        RocPoint {
            threshold,
            far,
            tar,
        }
    }

    /// Worked by hand. Query 0 (pid 1, cam 1), query 1 (pid 2, cam 1); gallery 0 pid 1/cam 1
    /// (dropped for query 0), 1 pid 1/cam 2, 2 pid 2/cam 2, 3 pid 3/cam 1.
    #[test]
    fn hand_computed_case_with_exclusion_and_ties() -> Result<(), VerificationError> {
        #[rustfmt::skip]
        let d = DistMat { rows: 2, cols: 4, data: vec![
            0.0, 0.2, 0.4, 0.6,
            0.3, 0.4, 0.1, 0.3,
        ]};
        let v = evaluate(
            &d,
            labels(&[1, 2], &[1, 1]),
            labels(&[1, 1, 2, 3], &[1, 2, 2, 1]),
            &[0.0, 0.25, 0.5],
        )?;
        // Genuine: 0.2 (q0,g1), 0.1 (q1,g2). Impostors: 0.4, 0.6 (q0), 0.3, 0.4, 0.3 (q1); the
        // dropped 0.0 would otherwise be the best genuine pair.
        assert_eq!((v.num_genuine, v.num_impostor), (2, 5));
        // 0.1 and 0.2 only add genuine pairs, 0.3, 0.4 and 0.6 only impostors: the points at
        // 0.1, 0.3 and 0.4 lie inside those runs and are dropped.
        assert_eq!(
            v.roc,
            vec![
                point(f64::from(0.2f32), 0.0, 1.0),
                point(f64::from(0.6f32), 1.0, 1.0),
            ]
        );
        assert_eq!(v.eer, 0.0);
        assert_eq!(v.tar, vec![1.0; 3]);
        assert_eq!(v.threshold, vec![Some(f64::from(0.2f32)); 3]);
        assert_eq!(v.far_achieved, vec![0.0; 3]);
        Ok(())
    }

    #[test]
    fn eer_interpolates_on_the_crossing_segment() -> Result<(), VerificationError> {
        // Genuine 1, 3; impostors 2, 4 (no ties): points (0, .5) (.5, .5) (.5, 1) (1, 1).
        // FNR − FAR: .5, 0 → the EER is exactly 0.5 at threshold 2.
        let v = from_distances(vec![3.0, 1.0], vec![4.0, 2.0], &FAR_TARGETS)?;
        assert_eq!(v.eer, 0.5);
        // One group with everything tied: the segment (0, 0) → (1, 1) crosses at 0.5.
        let v = from_distances(vec![1.0; 3], vec![1.0; 7], &FAR_TARGETS)?;
        assert_eq!(v.roc, vec![point(1.0, 1.0, 1.0)]);
        assert!((v.eer - 0.5).abs() < 1e-15);
        // Genuine 1, 2, 3, 4; impostors 2.5, 5, 6, 7: at 3 FAR = FNR = .25. That point lies
        // inside the vertical run 2.5 → 4 and is dropped, yet the interpolation still finds it.
        let v = from_distances(vec![1.0, 2.0, 3.0, 4.0], vec![2.5, 5.0, 6.0, 7.0], &[0.2])?;
        assert!(v.roc.iter().all(|p| p.threshold != 3.0), "{:?}", v.roc);
        assert_eq!(v.eer, 0.25);
        // A tie segment across the line: genuine 1, 2 and impostor 2, 3 → (0, .5) then
        // (.5, 1) in one step: d goes .5 → −.5, α = .5, EER = .25.
        let v = from_distances(vec![1.0, 2.0], vec![2.0, 3.0], &[0.0])?;
        assert!((v.eer - 0.25).abs() < 1e-15, "{}", v.eer);
        Ok(())
    }

    #[test]
    fn perfect_and_inverted_separation() -> Result<(), VerificationError> {
        let genuine = vec![0.1, 0.3, 0.2];
        let impostor: Vec<f32> = (0..20_000).map(|k| 0.5 + k as f32 * 1e-5).collect();
        let v = from_distances(genuine.clone(), impostor.clone(), &FAR_TARGETS)?;
        assert_eq!(v.eer, 0.0);
        assert_eq!(v.tar, vec![1.0; 3]);
        assert_eq!(v.threshold, vec![Some(f64::from(0.3f32)); 3]);
        assert_eq!(v.far_achieved, vec![0.0; 3]);
        // Swapped: every impostor is closer than every genuine pair.
        let v = from_distances(
            impostor.iter().map(|d| d + 1.0).collect(),
            genuine,
            &FAR_TARGETS,
        )?;
        assert_eq!(v.eer, 1.0);
        assert_eq!(v.tar, vec![0.0; 3]);
        assert_eq!(v.threshold, vec![None; 3]);
        Ok(())
    }

    #[test]
    fn far_budget_picks_the_smallest_threshold_of_the_best_tar() -> Result<(), VerificationError> {
        // 200 impostors: FAR 1e-2 admits 2 of them, 1e-3 and 1e-4 none.
        let impostor: Vec<f32> = (0..200).map(|k| 1.0 + k as f32).collect();
        // Genuine: 3 below every impostor, 1 between the 2nd and 3rd impostor, 1 far away.
        let genuine = vec![0.5, 0.25, 0.75, 2.5, 500.0];
        let v = from_distances(genuine, impostor, &FAR_TARGETS)?;
        // FAR 1e-2: thresholds 2.0 (2 impostors, TAR .6) up to 2.5 (TAR .8, still 2 impostors).
        assert_eq!(v.tar, vec![0.8, 0.6, 0.6]);
        assert_eq!(v.threshold, vec![Some(2.5), Some(0.75), Some(0.75)]);
        assert_eq!(v.far_achieved, vec![0.01, 0.0, 0.0]);
        // A horizontal run within the budget: its start (0.5, FAR 0) is reported, not its end
        // (2.0, FAR 0.2), which is kept as a corner because the tie at 3.0 follows.
        let v = from_distances(
            vec![0.5, 3.0],
            (1..=10).map(|k| k as f32).collect(),
            &[0.25],
        )?;
        assert_eq!(v.roc[1], point(2.0, 0.2, 0.5));
        assert_eq!(
            (v.tar[0], v.threshold[0], v.far_achieved[0]),
            (0.5, Some(0.5), 0.0)
        );
        // A target of exactly 0 is valid; 1 and NaN are not.
        assert!(from_distances(vec![1.0], vec![2.0], &[0.0]).is_ok());
        for bad in [1.0, -1e-9, f64::NAN] {
            let e = from_distances(vec![1.0], vec![2.0], &[0.1, bad]);
            assert!(
                matches!(e, Err(VerificationError::FarTarget(f)) if f.to_bits() == bad.to_bits())
            );
        }
        Ok(())
    }

    #[test]
    fn all_genuine_no_impostor_and_empty_sides_are_errors() {
        let d = DistMat {
            rows: 1,
            cols: 3,
            data: vec![0.1, 0.2, 0.3],
        };
        // Every gallery item has the query's pid: no impostor pair.
        let all_genuine = evaluate(&d, labels(&[4], &[1]), labels(&[4; 3], &[2, 3, 1]), &[]);
        assert_eq!(all_genuine, Err(VerificationError::NoImpostorPairs));
        // Only impostors and a same-camera match, which does not count as genuine.
        let no_genuine = evaluate(&d, labels(&[4], &[1]), labels(&[4, 5, 6], &[1, 2, 3]), &[]);
        assert_eq!(no_genuine, Err(VerificationError::NoGenuinePairs));
        let empty = DistMat {
            rows: 0,
            cols: 0,
            data: vec![],
        };
        let e = evaluate(&empty, labels(&[], &[]), labels(&[], &[]), &FAR_TARGETS);
        assert_eq!(e, Err(VerificationError::NoGenuinePairs));
        assert_eq!(
            from_distances(vec![1.0], vec![], &[]),
            Err(VerificationError::NoImpostorPairs)
        );
        // A camid slice one short.
        let e = evaluate(&d, labels(&[4], &[1]), labels(&[4, 5, 6], &[1, 2]), &[]);
        assert!(matches!(e, Err(VerificationError::Shape { .. })), "{e:?}");
    }

    #[test]
    fn nan_distances_rank_after_every_number() -> Result<(), Box<dyn std::error::Error>> {
        let genuine = vec![0.1, f32::NAN, 0.3, -f32::NAN, 0.35];
        let impostor = vec![0.2, 0.4, f32::NAN, 0.5, 0.6, -f32::NAN, 0.7, 0.8];
        let v = from_distances(genuine.clone(), impostor.clone(), &FAR_TARGETS)?;
        // Same as the NaNs replaced by a distance above all others.
        let big = |v: &[f32]| {
            v.iter()
                .map(|&d| if d.is_nan() { 1e30 } else { d })
                .collect()
        };
        let w = from_distances(big(&genuine), big(&impostor), &FAR_TARGETS)?;
        assert_eq!((v.eer, &v.tar, &v.threshold), (w.eer, &w.tar, &w.threshold));
        assert_eq!(v.roc.len(), w.roc.len());
        let last = v.roc[v.roc.len() - 1];
        assert!(last.threshold.is_nan() && last.far == 1.0 && last.tar == 1.0);
        assert!(v.eer.is_finite() && v.eer > 0.0 && v.eer < 1.0);
        let json = serde_json::to_string(&v)?;
        assert!(!json.contains("NaN") && !json.contains("null"), "{json}");
        Ok(())
    }

    /// The definitions, literally: every distinct threshold of all pairs, counted from scratch.
    fn naive(genuine: &[f32], impostor: &[f32], target: f64) -> (Vec<RocPoint>, f64, f64) {
        let mut ts: Vec<f32> = genuine.iter().chain(impostor).copied().collect();
        ts.sort_by(f32::total_cmp);
        ts.dedup();
        let rate =
            |v: &[f32], t: f32| v.iter().filter(|&&d| d <= t).count() as f64 / v.len() as f64;
        let full: Vec<RocPoint> = ts
            .iter()
            .map(|&t| point(f64::from(t), rate(impostor, t), rate(genuine, t)))
            .collect();
        let best = full
            .iter()
            .filter(|p| p.far <= target)
            .map(|p| p.tar)
            .fold(0.0, f64::max);
        let threshold = full
            .iter()
            .find(|p| p.tar == best && best > 0.0)
            .map_or(f64::NEG_INFINITY, |p| p.threshold);
        (full, best, threshold)
    }

    #[test]
    fn agrees_with_the_definitions_on_random_data_with_ties() -> Result<(), VerificationError> {
        let mut state = 99u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u32
        };
        let (nq, ng) = (30, 90);
        let q_pids: Vec<i32> = (0..nq).map(|_| (next() % 12) as i32).collect();
        let q_cams: Vec<u32> = (0..nq).map(|_| next() % 3).collect();
        let g_pids: Vec<i32> = (0..ng).map(|_| (next() % 12) as i32).collect();
        let g_cams: Vec<u32> = (0..ng).map(|_| next() % 3).collect();
        let data: Vec<f32> = (0..nq * ng)
            .map(|k| {
                let (i, j) = (k / ng, k % ng);
                let shift = if q_pids[i] == g_pids[j] { 0 } else { 12 };
                (next() % 40 + shift) as f32 / 8.0
            })
            .collect();
        let d = DistMat {
            rows: nq,
            cols: ng,
            data,
        };
        let targets = [0.3, 0.1, 0.03, 0.01, 1e-3];
        let v = evaluate(
            &d,
            labels(&q_pids, &q_cams),
            labels(&g_pids, &g_cams),
            &targets,
        )?;
        let (mut genuine, mut impostor) = (vec![], vec![]);
        for i in 0..nq {
            for j in 0..ng {
                if q_pids[i] != g_pids[j] {
                    impostor.push(d.row(i)[j]);
                } else if q_cams[i] != g_cams[j] {
                    genuine.push(d.row(i)[j]);
                }
            }
        }
        assert_eq!(
            (v.num_genuine, v.num_impostor),
            (genuine.len(), impostor.len())
        );
        let (full, ..) = naive(&genuine, &impostor, 0.0);
        // Mixed groups on both sides of the EER, and some points dropped.
        assert!(
            full.len() > v.roc.len() + 5,
            "{} {}",
            full.len(),
            v.roc.len()
        );
        // Kept points are points of the full curve; dropped ones lie on a vertical or horizontal
        // segment between their kept neighbours.
        let mut prev = point(f64::NEG_INFINITY, 0.0, 0.0);
        let mut kept = v.roc.iter().peekable();
        for p in &full {
            let next = **kept
                .peek()
                .expect("the last point of the full curve is kept");
            if next.threshold == p.threshold {
                assert_eq!(next, *p);
                prev = next;
                kept.next();
            } else {
                let vertical = p.far == prev.far && p.far == next.far;
                let horizontal = p.tar == prev.tar && p.tar == next.tar;
                assert!(
                    vertical || horizontal,
                    "{p:?} not between {prev:?} and {next:?}"
                );
            }
        }
        assert!(kept.next().is_none());
        for (k, &t) in targets.iter().enumerate() {
            let (_, tar, threshold) = naive(&genuine, &impostor, t);
            assert_eq!(v.tar[k], tar, "target {t}");
            assert_eq!(v.threshold[k].unwrap_or(f64::NEG_INFINITY), threshold);
            assert!(v.far_achieved[k] <= t);
        }
        // EER: the first full-curve point with FNR <= FAR and its predecessor bracket it.
        let k = full
            .iter()
            .position(|p| 1.0 - p.tar <= p.far)
            .expect("the full curve ends at (1, 1)");
        let lo = if k == 0 { 0.0 } else { full[k - 1].far };
        assert!(
            lo <= v.eer && v.eer <= full[k].far,
            "{lo} {} {}",
            v.eer,
            full[k].far
        );
        assert!(v.eer > 0.05 && v.eer < 0.5, "{}", v.eer);
        Ok(())
    }

    #[test]
    fn serialises_the_documented_keys() -> Result<(), Box<dyn std::error::Error>> {
        let v = from_distances(
            vec![0.1, 0.2],
            (1..=100).map(|k| k as f32).collect(),
            &[0.5],
        )?;
        let json: serde_json::Value = serde_json::to_value(&v)?;
        let keys: Vec<&str> = json
            .as_object()
            .ok_or("not an object")?
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = [
            "eer",
            "far",
            "tar",
            "threshold",
            "far_achieved",
            "num_genuine",
            "num_impostor",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["far"], serde_json::json!([0.5]));
        assert_eq!(json["threshold"][0].as_f64(), Some(f64::from(0.2f32)));
        Ok(())
    }
}
