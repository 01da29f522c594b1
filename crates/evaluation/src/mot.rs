//! Multi-object tracking metrics on labelled frames: CLEAR-MOT's MOTA (misses, false positives
//! and identity switches per ground-truth box, correspondences kept across frames while their IoU
//! stays above the threshold) and IDF1 (the share of boxes whose identity is right under the best
//! one-to-one mapping of ground-truth to tracker identities, Ristani et al. 2016). Hypotheses in
//! ignore regions that match no ground truth count for nothing.

use crate::assignment::min_cost_matching;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

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

/// The metrics, with the counts they come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MotMetrics {
    pub frames: usize,
    pub gt_boxes: usize,
    pub hyp_boxes: usize,
    pub misses: usize,
    pub false_positives: usize,
    pub id_switches: usize,
    #[serde(rename = "MOTA")]
    pub mota: f64,
    #[serde(rename = "IDF1")]
    pub idf1: f64,
    pub idtp: usize,
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area = |r: &[f32; 4]| (r[2] - r[0]).max(0.0) * (r[3] - r[1]).max(0.0);
    let union = area(a) + area(b) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Share of `a` inside `b`.
fn ioa(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = (a[2] - a[0]).max(0.0) * (a[3] - a[1]).max(0.0);
    if area > 0.0 { iw * ih / area } else { 0.0 }
}

/// Scores `hyp` against `gt` on `frames` (the labelled ones; other frames are not looked at).
/// `ignore` holds `(frame, region)` pairs; `min_iou` is the match threshold (0.5 as usual).
pub fn evaluate_mot(
    frames: &BTreeSet<usize>,
    gt: &[MotBox],
    hyp: &[MotBox],
    ignore: &[(usize, [f32; 4])],
    min_iou: f32,
) -> MotMetrics {
    let by_frame = |boxes: &[MotBox]| {
        let mut m: HashMap<usize, Vec<MotBox>> = HashMap::new();
        for b in boxes.iter().filter(|b| frames.contains(&b.frame)) {
            m.entry(b.frame).or_default().push(*b);
        }
        m
    };
    let (gt_at, hyp_at) = (by_frame(gt), by_frame(hyp));
    let mut last: HashMap<u64, u64> = HashMap::new();
    let (mut gt_boxes, mut hyp_boxes, mut misses, mut fps, mut switches) = (0, 0, 0, 0, 0);
    // (gt id, hyp id) → frames where they overlap; counted hypotheses per id.
    let mut overlap: HashMap<(u64, u64), usize> = HashMap::new();
    for &f in frames {
        let g = gt_at.get(&f).map_or(&[][..], Vec::as_slice);
        let h_all = hyp_at.get(&f).map_or(&[][..], Vec::as_slice);
        let (rows, cols) = (g.len(), h_all.len());
        let ious: Vec<f32> = g
            .iter()
            .flat_map(|a| h_all.iter().map(move |b| iou(&a.bbox, &b.bbox)))
            .collect();
        for (i, a) in g.iter().enumerate() {
            for (j, b) in h_all.iter().enumerate() {
                if ious[i * cols + j] >= min_iou {
                    *overlap.entry((a.id, b.id)).or_default() += 1;
                }
            }
        }
        // Keep last frame's correspondences that still hold, then match the rest optimally.
        let mut costs: Vec<f32> = ious.iter().map(|v| 1.0 - v).collect();
        for (i, a) in g.iter().enumerate() {
            if let Some(j) = last
                .get(&a.id)
                .and_then(|hid| h_all.iter().position(|b| b.id == *hid))
                .filter(|&j| ious[i * cols + j] >= min_iou)
            {
                costs[i * cols + j] = -1.0;
            }
        }
        let pairs: Vec<(usize, usize)> = min_cost_matching(&costs, rows, cols, 1.0 - min_iou)
            .into_iter()
            .filter(|&(i, j)| ious[i * cols + j] >= min_iou)
            .collect();
        for &(i, j) in &pairs {
            if last
                .insert(g[i].id, h_all[j].id)
                .is_some_and(|prev| prev != h_all[j].id)
            {
                switches += 1;
            }
        }
        let matched_h: BTreeSet<usize> = pairs.iter().map(|p| p.1).collect();
        let ignored = h_all.iter().enumerate().filter(|(j, b)| {
            !matched_h.contains(j)
                && ignore
                    .iter()
                    .any(|(fr, r)| *fr == f && ioa(&b.bbox, r) >= 0.5)
        });
        let n_ignored = ignored.count();
        gt_boxes += rows;
        hyp_boxes += cols - n_ignored;
        misses += rows - pairs.len();
        fps += cols - pairs.len() - n_ignored;
    }
    // IDF1: the best one-to-one mapping of identities by frames of overlap.
    let gt_ids: Vec<u64> = gt
        .iter()
        .map(|b| b.id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let hyp_ids: Vec<u64> = hyp
        .iter()
        .map(|b| b.id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let most = overlap.values().copied().max().unwrap_or(0) as f32;
    let costs: Vec<f32> = gt_ids
        .iter()
        .flat_map(|g| {
            hyp_ids.iter().map(|h| match overlap.get(&(*g, *h)) {
                Some(&n) => most - n as f32,
                None => f32::INFINITY,
            })
        })
        .collect();
    let idtp: usize = min_cost_matching(&costs, gt_ids.len(), hyp_ids.len(), most)
        .into_iter()
        .map(|(i, j)| overlap[&(gt_ids[i], hyp_ids[j])])
        .sum();
    let ratio = |num: f64, den: usize| if den > 0 { num / den as f64 } else { 0.0 };
    MotMetrics {
        frames: frames.len(),
        gt_boxes,
        hyp_boxes,
        misses,
        false_positives: fps,
        id_switches: switches,
        mota: 1.0 - ratio((misses + fps + switches) as f64, gt_boxes),
        idf1: ratio(2.0 * idtp as f64, gt_boxes + hyp_boxes),
        idtp,
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
    }
}
