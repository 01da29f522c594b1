//! Multi-object tracking metrics on labelled frames, equal to TrackEval's (Luiten et al.): the
//! CLEAR-MOT family (MOTA, MOTP, misses, false positives, identity switches, mostly tracked /
//! lost), the identity family (IDF1, IDP, IDR: the best one-to-one mapping of ground-truth to
//! tracker identities, Ristani et al. 2016) and, through `hota`, HOTA with DetA, AssA and LocA.
//! Frames become TrackEval's timesteps in order; boxes are compared by IoU; every optimal matching
//! is scipy's `linear_sum_assignment` algorithm, so even ties resolve as in TrackEval. Tracker
//! boxes in ignore regions that match no ground truth are dropped before any metric sees them.

use crate::assignment::max_score_assignment;
use crate::hota::{HotaMetrics, hota};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// TrackEval's slack on similarity thresholds, `np.finfo(float).eps`.
pub(crate) const EPS: f64 = f64::EPSILON;

/// The bonus TrackEval's CLEAR matching gives a pair that was matched in the previous frame, so
/// continuing a correspondence beats any gain in IoU.
const CONTINUATION_BONUS: f64 = 1000.0;

/// Share of a ground-truth identity's frames it must be matched in to count as mostly tracked
/// (more than this), or as at least partially tracked (this much or more).
const MOSTLY_TRACKED: f64 = 0.8;
const PARTIALLY_TRACKED: f64 = 0.2;

/// Reads numbers from comma-separated lines of `path`, `min` values per line at least.
fn read_rows(path: &Path, min: usize) -> Result<Vec<Vec<f32>>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v: Result<Vec<f32>, _> = l.split(',').map(|x| x.trim().parse::<f32>()).collect();
            match v {
                Ok(v) if v.len() >= min && v.iter().all(|x| x.is_finite()) => Ok(v),
                _ => Err(format!(
                    "{} line {}: expected {min}+ numbers, got {l:?}",
                    path.display(),
                    i + 1
                )),
            }
        })
        .collect()
}

/// Boxes of a MOTChallenge file (`frame,id,x,y,w,h,…`, frame numbers as written).
pub fn read_mot_file(path: &Path) -> Result<Vec<MotBox>, String> {
    Ok(read_rows(path, 6)?
        .into_iter()
        .map(|v| MotBox {
            frame: v[0] as usize,
            id: v[1] as u64,
            bbox: [v[2], v[3], v[2] + v[4], v[3] + v[5]],
        })
        .collect())
}

/// Ignore regions `frame,x,y,w,h`.
pub fn read_ignore_file(path: &Path) -> Result<Vec<(usize, [f32; 4])>, String> {
    Ok(read_rows(path, 5)?
        .into_iter()
        .map(|v| (v[0] as usize, [v[1], v[2], v[1] + v[3], v[2] + v[4]]))
        .collect())
}

/// One box of one identity in one frame; corners in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotBox {
    pub frame: usize,
    pub id: u64,
    pub bbox: [f32; 4],
}

/// The metrics, with the counts they come from. Serialised with TrackEval's names (`MOTA`,
/// `IDF1`, `HOTA`, …; the HOTA family flattened in, its per-threshold values under `per_alpha`)
/// besides reid's older keys `frames`, `gt_boxes`, `hyp_boxes`, `misses`, `false_positives`,
/// `id_switches` and `idtp`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MotMetrics {
    /// Frames scored: TrackEval's timesteps.
    pub frames: usize,
    pub gt_boxes: usize,
    /// Tracker boxes scored, those dropped in ignore regions not counted.
    pub hyp_boxes: usize,
    /// Ground-truth boxes left unmatched, as `CLR_FN`.
    pub misses: usize,
    /// Tracker boxes left unmatched, as `CLR_FP`.
    pub false_positives: usize,
    /// Identity switches, as `IDSW`.
    pub id_switches: usize,
    /// Boxes whose identity is right under the best identity mapping, as `IDTP`.
    pub idtp: usize,
    /// 1 − (misses + false positives + identity switches) / ground-truth boxes.
    #[serde(rename = "MOTA")]
    pub mota: f64,
    /// Mean IoU of the CLEAR matches.
    #[serde(rename = "MOTP")]
    pub motp: f64,
    /// MOTA without identity switches.
    #[serde(rename = "MODA")]
    pub moda: f64,
    /// MOTA with each match counting its IoU instead of 1.
    #[serde(rename = "sMOTA")]
    pub smota: f64,
    #[serde(rename = "CLR_Re")]
    pub clr_recall: f64,
    #[serde(rename = "CLR_Pr")]
    pub clr_precision: f64,
    #[serde(rename = "CLR_TP")]
    pub clr_tp: usize,
    #[serde(rename = "CLR_FN")]
    pub clr_fn: usize,
    #[serde(rename = "CLR_FP")]
    pub clr_fp: usize,
    #[serde(rename = "IDSW")]
    pub idsw: usize,
    /// Ground-truth identities matched in more than 80% of their frames.
    #[serde(rename = "MT")]
    pub mostly_tracked: usize,
    /// Those matched in 20–80% of their frames.
    #[serde(rename = "PT")]
    pub partially_tracked: usize,
    /// Those matched in less than 20% of their frames.
    #[serde(rename = "ML")]
    pub mostly_lost: usize,
    /// Times a ground-truth identity's matched run starts again after a break, summed.
    #[serde(rename = "Frag")]
    pub fragmentations: usize,
    /// MT, PT and ML as shares of the ground-truth identities.
    #[serde(rename = "MTR")]
    pub mostly_tracked_ratio: f64,
    #[serde(rename = "PTR")]
    pub partially_tracked_ratio: f64,
    #[serde(rename = "MLR")]
    pub mostly_lost_ratio: f64,
    /// IDTP / (IDTP + (IDFP + IDFN) / 2).
    #[serde(rename = "IDF1")]
    pub idf1: f64,
    /// IDTP / tracker boxes.
    #[serde(rename = "IDP")]
    pub idp: f64,
    /// IDTP / ground-truth boxes.
    #[serde(rename = "IDR")]
    pub idr: f64,
    #[serde(rename = "IDTP")]
    pub id_tp: usize,
    #[serde(rename = "IDFN")]
    pub id_fn: usize,
    #[serde(rename = "IDFP")]
    pub id_fp: usize,
    #[serde(flatten)]
    pub hota: HotaMetrics,
}

/// One timestep as TrackEval's metrics see it: identities relabelled `0..n` and their IoUs.
pub(crate) struct Step {
    pub(crate) gt: Vec<usize>,
    pub(crate) tracker: Vec<usize>,
    /// `gt.len() × tracker.len()`, row-major.
    ious: Vec<f64>,
}

impl Step {
    pub(crate) fn iou(&self, gt: usize, tracker: usize) -> f64 {
        self.ious[gt * self.tracker.len() + tracker]
    }
}

/// A sequence ready for the metrics (TrackEval's preprocessed `data`).
pub(crate) struct Sequence {
    pub(crate) steps: Vec<Step>,
    pub(crate) gt_ids: usize,
    pub(crate) tracker_ids: usize,
    pub(crate) gt_dets: usize,
    pub(crate) tracker_dets: usize,
}

/// IoU of two corner boxes in TrackEval's arithmetic (`_calculate_box_ious`): 0 when either box
/// or their union has no area.
fn iou(a: &[f32; 4], b: &[f32; 4]) -> f64 {
    let [a0, a1, a2, a3] = a.map(f64::from);
    let [b0, b1, b2, b3] = b.map(f64::from);
    let inter = (a2.min(b2) - a0.max(b0)).max(0.0) * (a3.min(b3) - a1.max(b1)).max(0.0);
    let (area_a, area_b) = ((a2 - a0) * (a3 - a1), (b2 - b0) * (b3 - b1));
    let union = area_a + area_b - inter;
    if area_a <= EPS || area_b <= EPS || union <= EPS {
        0.0
    } else {
        inter / union
    }
}

/// IoUs of `gt` (rows) with `hyp` (columns), row-major.
fn iou_matrix(gt: &[MotBox], hyp: &[MotBox]) -> Vec<f64> {
    gt.iter()
        .flat_map(|a| hyp.iter().map(move |b| iou(&a.bbox, &b.bbox)))
        .collect()
}

/// Share of `a` inside `b`.
fn ioa(a: &[f32; 4], b: &[f32; 4]) -> f64 {
    let [a0, a1, a2, a3] = a.map(f64::from);
    let [b0, b1, b2, b3] = b.map(f64::from);
    let inter = (a2.min(b2) - a0.max(b0)).max(0.0) * (a3.min(b3) - a1.max(b1)).max(0.0);
    let area = (a2 - a0).max(0.0) * (a3 - a1).max(0.0);
    if area > 0.0 { inter / area } else { 0.0 }
}

/// Pairs of the assignment maximising the summed IoU among pairs with IoU ≥ `min_iou` (TrackEval's
/// preprocessing match).
fn iou_matches(ious: &[f64], rows: usize, cols: usize, min_iou: f64) -> Vec<(usize, usize)> {
    let gated: Vec<f64> = ious
        .iter()
        .map(|&s| if s < min_iou - EPS { 0.0 } else { s })
        .collect();
    max_score_assignment(&gated, rows, cols)
        .into_iter()
        .filter(|&(i, j)| gated[i * cols + j] > EPS)
        .collect()
}

/// `frames` in order as timesteps, with the boxes on them. Per frame with ignore regions, tracker
/// boxes that no ground truth matches (IoU ≥ `min_iou`) and that lie at least half inside a region
/// are dropped. Identities are relabelled `0..n` in increasing order.
fn sequence(
    frames: &BTreeSet<usize>,
    gt: &[MotBox],
    hyp: &[MotBox],
    ignore: &[(usize, [f32; 4])],
    min_iou: f64,
) -> Sequence {
    let by_frame = |boxes: &[MotBox]| {
        let mut m: BTreeMap<usize, Vec<MotBox>> = BTreeMap::new();
        for b in boxes.iter().filter(|b| frames.contains(&b.frame)) {
            m.entry(b.frame).or_default().push(*b);
        }
        m
    };
    let (gt_at, hyp_at) = (by_frame(gt), by_frame(hyp));
    let mut regions_at: BTreeMap<usize, Vec<&[f32; 4]>> = BTreeMap::new();
    for (f, region) in ignore.iter().filter(|(f, _)| frames.contains(f)) {
        regions_at.entry(*f).or_default().push(region);
    }
    let mut kept: Vec<(&[MotBox], Vec<MotBox>)> = Vec::with_capacity(frames.len());
    for f in frames {
        let g = gt_at.get(f).map_or(&[][..], Vec::as_slice);
        let h = hyp_at.get(f).map_or(&[][..], Vec::as_slice);
        let Some(regions) = regions_at.get(f) else {
            kept.push((g, h.to_vec()));
            continue;
        };
        let matched: BTreeSet<usize> = iou_matches(&iou_matrix(g, h), g.len(), h.len(), min_iou)
            .into_iter()
            .map(|(_, j)| j)
            .collect();
        let scored = h.iter().enumerate().filter(|(j, b)| {
            matched.contains(j) || !regions.iter().any(|r| ioa(&b.bbox, r) >= 0.5)
        });
        kept.push((g, scored.map(|(_, b)| *b).collect()));
    }
    let relabel = |ids: BTreeSet<u64>| -> BTreeMap<u64, usize> {
        ids.into_iter().enumerate().map(|(k, id)| (id, k)).collect()
    };
    let gt_label = relabel(
        kept.iter()
            .flat_map(|(g, _)| g.iter().map(|b| b.id))
            .collect(),
    );
    let hyp_label = relabel(
        kept.iter()
            .flat_map(|(_, h)| h.iter().map(|b| b.id))
            .collect(),
    );
    let steps: Vec<Step> = kept
        .iter()
        .map(|(g, h)| Step {
            gt: g.iter().map(|b| gt_label[&b.id]).collect(),
            tracker: h.iter().map(|b| hyp_label[&b.id]).collect(),
            ious: iou_matrix(g, h),
        })
        .collect();
    Sequence {
        gt_dets: steps.iter().map(|s| s.gt.len()).sum(),
        tracker_dets: steps.iter().map(|s| s.tracker.len()).sum(),
        steps,
        gt_ids: gt_label.len(),
        tracker_ids: hyp_label.len(),
    }
}

/// CLEAR-MOT counts.
#[derive(Default)]
struct ClearCounts {
    tp: usize,
    misses: usize,
    false_positives: usize,
    switches: usize,
    mostly_tracked: usize,
    partially_tracked: usize,
    mostly_lost: usize,
    fragmentations: usize,
    iou_sum: f64,
}

/// TrackEval's CLEAR: per frame the assignment maximising 1000 per pair continued from the
/// previous frame plus the IoU, among pairs with IoU ≥ `threshold`. A switch is a ground-truth
/// identity matched to another tracker identity than the last time it was matched.
fn clear_counts(seq: &Sequence, threshold: f64) -> ClearCounts {
    if seq.tracker_dets == 0 || seq.gt_dets == 0 {
        return ClearCounts {
            misses: seq.gt_dets,
            false_positives: seq.tracker_dets,
            mostly_lost: seq.gt_ids,
            ..ClearCounts::default()
        };
    }
    let mut c = ClearCounts::default();
    let mut frames_present = vec![0usize; seq.gt_ids];
    let mut frames_matched = vec![0usize; seq.gt_ids];
    let mut runs = vec![0usize; seq.gt_ids];
    // The tracker identity each ground truth was last matched to, ever / in the last frame
    // that had both ground truth and tracker boxes.
    let mut last_match: Vec<Option<usize>> = vec![None; seq.gt_ids];
    let mut previous: Vec<Option<usize>> = vec![None; seq.gt_ids];
    for step in &seq.steps {
        let (rows, cols) = (step.gt.len(), step.tracker.len());
        if rows == 0 {
            c.false_positives += cols;
            continue;
        }
        if cols == 0 {
            c.misses += rows;
            for &g in &step.gt {
                frames_present[g] += 1;
            }
            continue;
        }
        let scores: Vec<f64> = (0..rows)
            .flat_map(|i| {
                let previous = &previous;
                (0..cols).map(move |j| {
                    let sim = step.iou(i, j);
                    if sim < threshold - EPS {
                        0.0
                    } else if previous[step.gt[i]] == Some(step.tracker[j]) {
                        CONTINUATION_BONUS + sim
                    } else {
                        sim
                    }
                })
            })
            .collect();
        let pairs: Vec<(usize, usize)> = max_score_assignment(&scores, rows, cols)
            .into_iter()
            .filter(|&(i, j)| scores[i * cols + j] > EPS)
            .collect();
        for &g in &step.gt {
            frames_present[g] += 1;
        }
        let was_tracked: Vec<bool> = previous.iter().map(Option::is_some).collect();
        previous.fill(None);
        for &(i, j) in &pairs {
            let (g, t) = (step.gt[i], step.tracker[j]);
            if last_match[g].is_some_and(|p| p != t) {
                c.switches += 1;
            }
            last_match[g] = Some(t);
            previous[g] = Some(t);
            frames_matched[g] += 1;
            if !was_tracked[g] {
                runs[g] += 1;
            }
            c.iou_sum += step.iou(i, j);
        }
        c.tp += pairs.len();
        c.misses += rows - pairs.len();
        c.false_positives += cols - pairs.len();
    }
    for (&present, &matched) in frames_present.iter().zip(&frames_matched) {
        if present == 0 {
            continue;
        }
        let ratio = matched as f64 / present as f64;
        if ratio > MOSTLY_TRACKED {
            c.mostly_tracked += 1;
        } else if ratio >= PARTIALLY_TRACKED {
            c.partially_tracked += 1;
        }
    }
    c.mostly_lost = seq.gt_ids - c.mostly_tracked - c.partially_tracked;
    c.fragmentations = runs.iter().map(|&n| n.saturating_sub(1)).sum();
    c
}

/// IDTP: boxes matched (IoU ≥ `threshold`) between identities paired one-to-one so that this
/// count is the largest.
fn identity_tp(seq: &Sequence, threshold: f64) -> usize {
    let mut overlap = vec![0usize; seq.gt_ids * seq.tracker_ids];
    for step in &seq.steps {
        for (i, &g) in step.gt.iter().enumerate() {
            for (j, &t) in step.tracker.iter().enumerate() {
                if step.iou(i, j) >= threshold {
                    overlap[g * seq.tracker_ids + t] += 1;
                }
            }
        }
    }
    let scores: Vec<f64> = overlap.iter().map(|&n| n as f64).collect();
    max_score_assignment(&scores, seq.gt_ids, seq.tracker_ids)
        .into_iter()
        .map(|(g, t)| overlap[g * seq.tracker_ids + t])
        .sum()
}

/// Scores `hyp` against `gt` on `frames`, TrackEval's timesteps in order (boxes on other frames
/// are not looked at; a frame without ground truth still counts its tracker boxes as false
/// positives, so to score a whole MOTChallenge sequence pass every frame `1..=seqLength`).
/// `ignore` holds `(frame, region)` pairs; `min_iou` is the CLEAR / identity match threshold
/// (TrackEval's 0.5); HOTA uses its own 19 thresholds.
pub fn evaluate_mot(
    frames: &BTreeSet<usize>,
    gt: &[MotBox],
    hyp: &[MotBox],
    ignore: &[(usize, [f32; 4])],
    min_iou: f32,
) -> MotMetrics {
    let threshold = f64::from(min_iou);
    let seq = sequence(frames, gt, hyp, ignore, threshold);
    let c = clear_counts(&seq, threshold);
    let id_tp = identity_tp(&seq, threshold);
    let (gt_boxes, hyp_boxes) = (seq.gt_dets, seq.tracker_dets);
    let ratio = |num: f64, den: usize| num / (den as f64).max(1.0);
    // TrackEval leaves MOTA, MODA and sMOTA at 0 when either side has no boxes.
    let scored = gt_boxes > 0 && hyp_boxes > 0;
    let accuracy = |num: f64| if scored { ratio(num, gt_boxes) } else { 0.0 };
    let (tp, fp, sw) = (c.tp as f64, c.false_positives as f64, c.switches as f64);
    let gt_ids = c.mostly_tracked + c.partially_tracked + c.mostly_lost;
    let (id_fn, id_fp) = (gt_boxes - id_tp, hyp_boxes - id_tp);
    MotMetrics {
        frames: frames.len(),
        gt_boxes,
        hyp_boxes,
        misses: c.misses,
        false_positives: c.false_positives,
        id_switches: c.switches,
        idtp: id_tp,
        mota: accuracy(tp - fp - sw),
        motp: ratio(c.iou_sum, c.tp),
        moda: accuracy(tp - fp),
        smota: accuracy(c.iou_sum - fp - sw),
        clr_recall: ratio(tp, c.tp + c.misses),
        clr_precision: ratio(tp, c.tp + c.false_positives),
        clr_tp: c.tp,
        clr_fn: c.misses,
        clr_fp: c.false_positives,
        idsw: c.switches,
        mostly_tracked: c.mostly_tracked,
        partially_tracked: c.partially_tracked,
        mostly_lost: c.mostly_lost,
        fragmentations: c.fragmentations,
        mostly_tracked_ratio: ratio(c.mostly_tracked as f64, gt_ids),
        partially_tracked_ratio: ratio(c.partially_tracked as f64, gt_ids),
        mostly_lost_ratio: if scored {
            ratio(c.mostly_lost as f64, gt_ids)
        } else {
            1.0
        },
        idf1: id_tp as f64 / (id_tp as f64 + 0.5 * id_fp as f64 + 0.5 * id_fn as f64).max(1.0),
        idp: ratio(id_tp as f64, hyp_boxes),
        idr: ratio(id_tp as f64, gt_boxes),
        id_tp,
        id_fn,
        id_fp,
        hota: hota(&seq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(frame: usize, id: u64, x: f32) -> MotBox {
        MotBox {
            frame,
            id,
            bbox: [x, 0.0, x + 10.0, 20.0],
        }
    }

    #[test]
    fn counts_by_hand() {
        let frames: BTreeSet<usize> = (0..4).collect();
        // Two people, 4 frames each.
        let gt: Vec<MotBox> = (0..4)
            .flat_map(|f| [b(f, 1, 0.0), b(f, 2, 100.0)])
            .collect();
        // Tracker: person 1 is track 7 then switches to track 8 at frame 2; person 2 is
        // missed in frame 3; one false positive in frame 1; one box in an ignore region.
        let hyp = vec![
            b(0, 7, 0.0),
            b(1, 7, 1.0),
            b(2, 8, 0.0),
            b(3, 8, 0.0),
            b(0, 5, 100.0),
            b(1, 5, 100.0),
            b(2, 5, 101.0),
            b(1, 9, 300.0),
            b(2, 9, 500.0),
        ];
        let ignore = [(2, [490.0, 0.0, 520.0, 30.0])];
        let m = evaluate_mot(&frames, &gt, &hyp, &ignore, 0.5);
        assert_eq!((m.gt_boxes, m.hyp_boxes), (8, 8));
        assert_eq!((m.misses, m.false_positives, m.id_switches), (1, 1, 1));
        assert!((m.mota - (1.0 - 3.0 / 8.0)).abs() < 1e-9);
        // Best mapping: 1↔7 or 1↔8 (2 frames each), 2↔5 (3 frames) → IDTP 5.
        assert_eq!(m.idtp, 5);
        assert!((m.idf1 - 10.0 / 16.0).abs() < 1e-9);
        // The TrackEval-named counts are the same numbers.
        assert_eq!((m.clr_fn, m.clr_fp, m.idsw, m.id_tp), (1, 1, 1, 5));
        assert_eq!((m.clr_tp, m.id_fn, m.id_fp), (7, 3, 3));
    }

    /// Two people 100 px apart for `frames` frames, person 2 a little taller.
    fn two_people(frames: usize) -> Vec<MotBox> {
        (0..frames)
            .flat_map(|f| {
                [
                    b(f, 1, 2.0 * f as f32),
                    MotBox {
                        bbox: [100.0, 0.0, 112.0, 24.0],
                        ..b(f, 2, 0.0)
                    },
                ]
            })
            .collect()
    }

    fn json_numbers(m: &MotMetrics) -> Vec<(String, f64)> {
        fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, f64)>) {
            match v {
                serde_json::Value::Object(map) => {
                    for (k, v) in map {
                        walk(&format!("{prefix}{k}."), v, out);
                    }
                }
                serde_json::Value::Array(items) => {
                    for v in items {
                        walk(prefix, v, out);
                    }
                }
                // NaN and infinities serialise as null.
                serde_json::Value::Null => out.push((prefix.to_string(), f64::NAN)),
                v => out.push((prefix.to_string(), v.as_f64().unwrap())),
            }
        }
        let mut out = Vec::new();
        walk("", &serde_json::to_value(m).unwrap(), &mut out);
        out
    }

    #[test]
    fn perfect_tracking_scores_one_everywhere() {
        let frames: BTreeSet<usize> = (0..6).collect();
        let gt = two_people(6);
        let hyp: Vec<MotBox> = gt
            .iter()
            .map(|x| MotBox {
                id: x.id + 40,
                ..*x
            })
            .collect();
        let m = evaluate_mot(&frames, &gt, &hyp, &[], 0.5);
        let h = &m.hota;
        for (name, v) in [
            ("HOTA", h.hota),
            ("DetA", h.det_a),
            ("AssA", h.ass_a),
            ("LocA", h.loc_a),
            ("DetRe", h.det_re),
            ("DetPr", h.det_pr),
            ("AssRe", h.ass_re),
            ("AssPr", h.ass_pr),
            ("HOTA(0)", h.hota_0),
            ("MOTA", m.mota),
            ("MOTP", m.motp),
            ("IDF1", m.idf1),
            ("IDP", m.idp),
            ("IDR", m.idr),
            ("MTR", m.mostly_tracked_ratio),
        ] {
            assert_eq!(v, 1.0, "{name}");
        }
        assert!(h.per_alpha.hota.iter().all(|&v| v == 1.0));
        assert_eq!(
            (m.misses, m.false_positives, m.id_switches, m.fragmentations),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn no_tracker_boxes_score_zero_without_nan() {
        let frames: BTreeSet<usize> = (0..6).collect();
        let gt = two_people(6);
        let m = evaluate_mot(&frames, &gt, &[], &[], 0.5);
        let h = &m.hota;
        for v in [
            h.hota, h.det_a, h.ass_a, h.det_re, h.det_pr, h.hota_0, m.mota, m.motp, m.idf1,
        ] {
            assert_eq!(v, 0.0);
        }
        // TrackEval's conventions: LocA is 1 with nothing to localise, every identity is lost.
        assert_eq!((h.loc_a, m.mostly_lost_ratio), (1.0, 1.0));
        assert_eq!((m.misses, m.mostly_lost, m.id_fn), (12, 2, 12));
        assert!(json_numbers(&m).iter().all(|(_, v)| v.is_finite()));
        // Nothing to find either: MOTA is 0 (it used to read 1 with no ground truth at all).
        for hyp in [&[][..], &gt[..]] {
            let m = evaluate_mot(&frames, &[], hyp, &[], 0.5);
            assert_eq!((m.mota, m.moda, m.hota.hota, m.idf1), (0.0, 0.0, 0.0, 0.0));
            assert!(json_numbers(&m).iter().all(|(_, v)| v.is_finite()));
        }
    }

    #[test]
    fn one_id_switch_changes_assa_but_not_deta() {
        let frames: BTreeSet<usize> = (0..10).collect();
        let gt = two_people(10);
        let steady: Vec<MotBox> = gt
            .iter()
            .map(|x| MotBox {
                id: x.id + 10,
                ..*x
            })
            .collect();
        // Person 1 gets a new track id from frame 5 on.
        let switched: Vec<MotBox> = steady
            .iter()
            .map(|x| match x.id {
                11 if x.frame >= 5 => MotBox { id: 13, ..*x },
                _ => *x,
            })
            .collect();
        let a = evaluate_mot(&frames, &gt, &steady, &[], 0.5);
        let s = evaluate_mot(&frames, &gt, &switched, &[], 0.5);
        assert_eq!(s.hota.det_a, a.hota.det_a);
        assert_eq!(s.hota.loc_a, a.hota.loc_a);
        assert!(
            s.hota.ass_a < a.hota.ass_a - 0.1,
            "{} vs {}",
            s.hota.ass_a,
            a.hota.ass_a
        );
        assert!(s.hota.hota < a.hota.hota);
        // Person 1's 10 frames split 5 / 5: AssA = (10 · 1 + 5 · 5/10 + 5 · 5/10) / 20 = 0.75.
        assert!((s.hota.ass_a - 0.75).abs() < 1e-12);
        assert_eq!((a.id_switches, s.id_switches), (0, 1));
        assert!((s.mota - (1.0 - 1.0 / 20.0)).abs() < 1e-12);
    }

    #[test]
    fn clear_keeps_a_continued_match_over_a_better_iou() {
        let frames: BTreeSet<usize> = (0..2).collect();
        let gt = vec![b(0, 1, 0.0), b(1, 1, 0.0)];
        // Track 7 follows person 1; in frame 1 it drifts (IoU 2/3) and track 8 fits exactly.
        let hyp = vec![b(0, 7, 0.0), b(1, 7, 2.0), b(1, 8, 0.0)];
        let m = evaluate_mot(&frames, &gt, &hyp, &[], 0.5);
        assert_eq!((m.id_switches, m.false_positives, m.clr_tp), (0, 1, 2));
        assert!((m.motp - (1.0 + 8.0 / 12.0) / 2.0).abs() < 1e-12);
    }
}
