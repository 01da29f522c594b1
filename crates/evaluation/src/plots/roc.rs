//! The verification picture of `reid evaluate` ([`plot_roc`]): the ROC curve of
//! [`crate::verification`], TAR against FAR on a log axis, with the FAR targets' operating points
//! marked and the EER in the legend.

use super::{
    CMC_LINE, CMC_MARKS, CMC_SIZE, PlotError, chart_frame, draw_axes, draw_legend, format_distance,
    percent_axis, render, save_png,
};
use crate::verification::{RocPoint, Verification};
use plotters::prelude::*;
use std::path::Path;

/// Left end of the FAR axis, which runs to 1 on a log scale.
const FAR_MIN: f64 = 1e-5;

/// Draws the ROC curve of `v` (`v.roc`) as an 800×600 PNG at `out`, creating its parent
/// directories: TAR in percent (from a multiple of 10 below the curve's lowest point to 100)
/// against FAR on a log axis from 1e-5 to 1, under `title`. FAR 0
/// has no place on a log axis, so the curve starts where its polyline (from (0, 0)) crosses
/// FAR = 1e-5. The EER point is ringed on the curve and the EER given in the legend; each FAR
/// target within the axis gets a marker at (target, TAR) and a legend entry with its TAR and
/// distance threshold.
pub fn plot_roc(v: &Verification, title: &str, out: &Path) -> Result<(), PlotError> {
    let curve = visible(&v.roc);
    // As in the CMC plot: the TAR axis starts at a multiple of 10 below the lowest point drawn.
    let lowest = curve.iter().map(|p| p.1).fold(100.0, f64::min);
    let (y_min, y_max) = percent_axis(lowest);
    let img = render(out, CMC_SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = chart_frame(root, title)
            .build_cartesian_2d((FAR_MIN..1.0).log_scale(), y_min..y_max)?;
        draw_axes(
            &mut chart,
            ("False accept rate (FAR)", "True accept rate (%)"),
            16,
            &decade_label,
            &|y| format!("{y:.0}"),
        )?;
        let line = CMC_LINE.stroke_width(2);
        chart
            .draw_series(LineSeries::new(curve, line))?
            .label(format!("ROC (EER {:.2}%)", 100.0 * v.eer))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], line));
        if v.eer >= FAR_MIN {
            let at = (v.eer, 100.0 * (1.0 - v.eer));
            chart.draw_series(std::iter::once(Circle::new(at, 7, line)))?;
        }
        let colours = CMC_MARKS.iter().map(|m| m.1).cycle();
        for (((&far, &tar), threshold), colour) in
            v.far.iter().zip(&v.tar).zip(&v.threshold).zip(colours)
        {
            if far < FAR_MIN {
                continue;
            }
            let at = threshold.map_or(String::new(), |t| {
                format!(" at d ≤ {}", format_distance(t as f32))
            });
            chart
                .draw_series(std::iter::once(Circle::new(
                    (far, 100.0 * tar),
                    5,
                    colour.filled(),
                )))?
                .label(format!("TAR@FAR {far:.0e}: {:.1}%{at}", 100.0 * tar))
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight, 15, 16)?;
        Ok(())
    })?;
    save_png(&img, out)
}

/// The curve's (FAR, TAR %) points from FAR = [`FAR_MIN`] on: the polyline through (0, 0) and
/// `roc`, cut where it crosses `FAR_MIN` by linear interpolation.
fn visible(roc: &[RocPoint]) -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    let mut prev = (0.0, 0.0);
    for p in roc {
        if p.far >= FAR_MIN {
            if points.is_empty() {
                let tar = prev.1 + (p.tar - prev.1) * (FAR_MIN - prev.0) / (p.far - prev.0);
                points.push((FAR_MIN, 100.0 * tar));
            }
            points.push((p.far, 100.0 * p.tar));
        }
        prev = (p.far, p.tar);
    }
    points
}

/// Axis label for a log axis: `1e-3` at powers of ten, nothing between.
fn decade_label(x: &f64) -> String {
    let e = x.log10().round();
    if (x.log10() - e).abs() > 1e-6 {
        String::new()
    } else if e == 0.0 {
        "1".into()
    } else {
        format!("1e{e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verification::{FAR_TARGETS, from_distances};

    /// Pixels of `img` with `colour`.
    fn count(img: &image::RgbImage, colour: RGBColor) -> usize {
        img.pixels()
            .filter(|p| p.0 == [colour.0, colour.1, colour.2])
            .count()
    }

    #[test]
    fn plots_roc_png_with_target_markers() -> Result<(), Box<dyn std::error::Error>> {
        // Bell-shaped scores: sums of four uniforms, genuine around 0.6, impostors around 1.2.
        let mut state = 7u64;
        let mut bell = |centre: f32| {
            let mut sum = 0.0;
            for _ in 0..4 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                sum += (state >> 40) as f32 / (1u64 << 24) as f32;
            }
            centre + 0.25 * (sum - 2.0)
        };
        let genuine: Vec<f32> = (0..3_000).map(|_| bell(0.6)).collect();
        let impostor: Vec<f32> = (0..300_000).map(|_| bell(1.2)).collect();
        let v = from_distances(genuine, impostor, &FAR_TARGETS)?;
        assert!(v.eer > 0.01 && v.eer < 0.3, "{}", v.eer);
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("plots/roc.png");
        plot_roc(&v, "Verification ROC: synthetic scores", &out)?;
        let img = image::open(&out)?.to_rgb8();
        assert_eq!(img.dimensions(), CMC_SIZE);
        assert!(count(&img, CMC_LINE) > 500, "no curve");
        for (_, colour) in CMC_MARKS {
            assert!(count(&img, colour) > 100, "marker {colour:?} missing");
        }

        // A perfect separation (EER 0, nothing at FAR > 0 but the final plateau) still draws.
        let v = from_distances(vec![0.1, 0.2], vec![0.5, 0.7], &FAR_TARGETS)?;
        assert_eq!(v.eer, 0.0);
        plot_roc(&v, "perfect", &out)?;
        assert_eq!(image::open(&out)?.to_rgb8().dimensions(), CMC_SIZE);
        Ok(())
    }

    #[test]
    fn curve_is_cut_at_the_axis_start() {
        let roc = [
            RocPoint {
                threshold: 0.1,
                far: 0.0,
                tar: 0.4,
            },
            RocPoint {
                threshold: 0.2,
                far: 2e-5,
                tar: 0.6,
            },
            RocPoint {
                threshold: 0.3,
                far: 1.0,
                tar: 1.0,
            },
        ];
        // Halfway from (0, 40 %) to (2e-5, 60 %).
        let points = visible(&roc);
        assert_eq!(points.len(), 3);
        assert_eq!(points[0].0, FAR_MIN);
        assert!((points[0].1 - 50.0).abs() < 1e-9, "{:?}", points[0]);
        assert_eq!(points[1..], [(2e-5, 60.0), (1.0, 100.0)]);
        assert_eq!(decade_label(&1e-3), "1e-3");
        assert_eq!(decade_label(&1.0), "1");
        assert_eq!(decade_label(&3e-3), "");
    }
}
