//! INT8 calibration: the value range of every quantised activation, from the fp32 graph run on
//! calibration images. A first pass finds each activation's minimum and maximum; for percentile
//! and entropy calibration a second pass histograms |x| over `[0, max |x|]` and picks the clipping
//! threshold from it (the 99.99th percentile, or the threshold whose 128-level quantised
//! distribution has the least KL divergence from the observed one, as TensorRT's entropy
//! calibrator does). The range is then `[max(min, −T), min(max, T)]`. The first pass also keeps
//! each activation's mean |x|, by which the graph builder judges how much a convolution cancels.

pub use reid_config::CalibrationMethod;

/// Histogram bins over `[0, max |x|]`.
const BINS: usize = 2048;
/// Quantisation levels the entropy search compares against (one sign of int8).
const LEVELS: usize = 128;
/// Share of |x| kept by percentile calibration.
const PERCENTILE: f64 = 0.9999;
/// Largest share of |x| entropy calibration may clip.
const ENTROPY_MAX_CLIPPED: f64 = 0.01;

/// The range an activation is quantised over, and its mean |x|.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lo: f32,
    pub hi: f32,
    pub mean_abs: f32,
}

/// Statistics of every activation across the calibration batches.
pub struct Calibrator {
    method: CalibrationMethod,
    ranges: Vec<Range>,
    /// Σ|x| and the count of values, per activation.
    abs_sums: Vec<(f64, u64)>,
    hists: Vec<Vec<f64>>,
}

impl Calibrator {
    pub fn new(method: CalibrationMethod, points: usize) -> Self {
        Self {
            method,
            ranges: vec![
                Range {
                    lo: f32::INFINITY,
                    hi: f32::NEG_INFINITY,
                    mean_abs: 0.0,
                };
                points
            ],
            abs_sums: vec![(0.0, 0); points],
            hists: Vec::new(),
        }
    }

    /// Whether the histogram pass is needed after the min/max pass.
    pub fn needs_histograms(&self) -> bool {
        self.method != CalibrationMethod::Minmax
    }

    /// Pass 1: widens activation `point`'s range to cover `values`.
    pub fn observe_range(&mut self, point: usize, values: &[f32]) {
        let r = &mut self.ranges[point];
        let (sum, count) = &mut self.abs_sums[point];
        for &v in values.iter().filter(|v| v.is_finite()) {
            r.lo = r.lo.min(v);
            r.hi = r.hi.max(v);
            *sum += f64::from(v.abs());
            *count += 1;
        }
        r.mean_abs = (*sum / (*count).max(1) as f64) as f32;
    }

    fn abs_max(&self, point: usize) -> f32 {
        let r = self.ranges[point];
        r.lo.abs().max(r.hi.abs()).max(f32::MIN_POSITIVE)
    }

    /// Pass 2: adds `values` to activation `point`'s |x| histogram.
    pub fn observe_histogram(&mut self, point: usize, values: &[f32]) {
        if self.hists.is_empty() {
            self.hists = vec![vec![0.0; BINS]; self.ranges.len()];
        }
        let per_bin = BINS as f32 / self.abs_max(point);
        let hist = &mut self.hists[point];
        for &v in values.iter().filter(|v| v.is_finite()) {
            hist[((v.abs() * per_bin) as usize).min(BINS - 1)] += 1.0;
        }
    }

    /// The calibrated range of every activation (`[0, 0]` for one never observed).
    pub fn ranges(&self) -> Vec<Range> {
        (0..self.ranges.len())
            .map(|point| {
                let r = self.ranges[point];
                if r.lo > r.hi {
                    return Range {
                        lo: 0.0,
                        hi: 0.0,
                        mean_abs: 0.0,
                    };
                }
                let Some(hist) = self.hists.get(point) else {
                    return r;
                };
                let bins = match self.method {
                    CalibrationMethod::Minmax => return r,
                    CalibrationMethod::Percentile => percentile_bins(hist, PERCENTILE),
                    CalibrationMethod::Entropy => entropy_bins(hist),
                };
                let t = self.abs_max(point) * bins as f32 / BINS as f32;
                Range {
                    lo: r.lo.max(-t),
                    hi: r.hi.min(t),
                    ..r
                }
            })
            .collect()
    }
}

/// Bins (from 0) holding the share `p` of the histogram's mass.
fn percentile_bins(hist: &[f64], p: f64) -> usize {
    let total: f64 = hist.iter().sum();
    let mut seen = 0.0;
    for (i, &h) in hist.iter().enumerate() {
        seen += h;
        if seen >= p * total {
            return i + 1;
        }
    }
    hist.len()
}

/// The clipping point (in bins) whose [`LEVELS`]-level quantisation of the clipped histogram is
/// closest (KL divergence) to the clipped histogram itself. The search never clips more than
/// [`ENTROPY_MAX_CLIPPED`] of the values: on distributions far from zero the divergence is
/// blind to what is clipped.
fn entropy_bins(hist: &[f64]) -> usize {
    let last_used = hist.iter().rposition(|&h| h > 0.0).map_or(0, |i| i + 1);
    let first = LEVELS.max(percentile_bins(hist, 1.0 - ENTROPY_MAX_CLIPPED));
    if last_used <= first {
        return last_used.max(1);
    }
    let mut best = (f64::INFINITY, last_used);
    for i in first..=last_used {
        // Reference: the first i bins, the mass beyond folded into the last one.
        let mut p = hist[..i].to_vec();
        p[i - 1] += hist[i..].iter().sum::<f64>();
        // Candidate: i bins merged into LEVELS levels, each level's mass spread evenly over
        // its non-empty bins.
        let mut q = vec![0.0; i];
        for level in 0..LEVELS {
            let (start, end) = (level * i / LEVELS, (level + 1) * i / LEVELS);
            let mass: f64 = hist[start..end].iter().sum();
            let used = hist[start..end].iter().filter(|&&h| h > 0.0).count();
            if used > 0 {
                for b in start..end {
                    if hist[b] > 0.0 {
                        q[b] = mass / used as f64;
                    }
                }
            }
        }
        let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
        let kl: f64 = p
            .iter()
            .zip(&q)
            .filter(|(p, _)| **p > 0.0)
            .map(|(p, q)| {
                let (p, q) = (p / sp, (q / sq).max(1e-12));
                p * (p / q).ln()
            })
            .sum();
        if kl < best.0 {
            best = (kl, i);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calibrated(method: CalibrationMethod, values: &[f32]) -> Range {
        let mut c = Calibrator::new(method, 1);
        c.observe_range(0, values);
        if c.needs_histograms() {
            c.observe_histogram(0, values);
        }
        c.ranges()[0]
    }

    /// 100,000 values spread over [−1, 1] and a few outliers at ±50.
    fn with_outliers() -> Vec<f32> {
        let mut v: Vec<f32> = (0..100_000)
            .map(|i| ((i as f32) * 0.618).fract() * 2.0 - 1.0)
            .collect();
        v.extend([50.0, -50.0, 49.0]);
        v
    }

    #[test]
    fn minmax_keeps_outliers_while_percentile_and_entropy_clip_them() {
        let v = with_outliers();
        let r = calibrated(CalibrationMethod::Minmax, &v);
        assert_eq!((r.lo, r.hi), (-50.0, 50.0));
        // Mean |x| of the uniform part (0.5) with the outliers' share (149 / 100,003) on top.
        let expected = (0.5 * 100_000.0 + 149.0) / 100_003.0;
        assert!((r.mean_abs - expected).abs() < 1e-3, "{r:?}");
        // Entropy's resolution is 128 of 2,048 bins of the full range: 3.125 here.
        for (method, most) in [
            (CalibrationMethod::Percentile, 1.1),
            (CalibrationMethod::Entropy, 3.2),
        ] {
            let r = calibrated(method, &v);
            assert!(
                r.hi > 0.95 && r.hi < most && r.lo < -0.95 && r.lo > -most,
                "{method:?}: {r:?}"
            );
        }
    }

    #[test]
    fn ranges_never_exceed_what_was_seen_and_unseen_points_are_empty() {
        // All positive (after a ReLU): the low end stays at the observed minimum.
        let v: Vec<f32> = (0..5_000).map(|i| i as f32 / 1000.0 + 0.5).collect();
        for method in [
            CalibrationMethod::Minmax,
            CalibrationMethod::Percentile,
            CalibrationMethod::Entropy,
        ] {
            let r = calibrated(method, &v);
            assert_eq!(r.lo, 0.5, "{method:?}");
            assert!(r.hi <= 5.5 && r.hi > 4.0, "{method:?}: {r:?}");
        }
        let c = Calibrator::new(CalibrationMethod::Entropy, 2);
        assert_eq!(
            c.ranges()[1],
            Range {
                lo: 0.0,
                hi: 0.0,
                mean_abs: 0.0
            }
        );
    }
}
