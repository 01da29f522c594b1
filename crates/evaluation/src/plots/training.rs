//! The training-curves picture of `reid train` ([`plot_training`]): losses, learning rate (log
//! scale) and validation scores against the epoch, three panels side by side.

use super::{FONT, GRID_BOLD, GRID_LIGHT, PlotError, draw_legend, integer_label, render, save_png};
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (1500, 500);
/// Line colours, in series order (matplotlib's first four).
const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// One named line: (epoch, value) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What the three panels show; `scores` are fractions (0..1), drawn in percent.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingCurves {
    pub losses: Vec<Curve>,
    pub lr: Curve,
    pub scores: Vec<Curve>,
}

/// How a panel's values are placed on its y axis.
#[derive(Clone, Copy)]
enum Axis {
    Linear,
    /// log10 of the value, labelled with the value.
    Log,
    /// The value × 100, on 0..100.
    Percent,
}

impl Axis {
    fn map(self, v: f64) -> f64 {
        match self {
            Self::Linear => v,
            Self::Log => v.log10(),
            Self::Percent => 100.0 * v,
        }
    }
}

/// Draws `curves` as a 1500×500 PNG at `out` (parent directories created) under `title`.
/// Non-finite values (and non-positive learning rates) are left out; a panel with nothing to
/// draw keeps its empty axes.
pub fn plot_training(curves: &TrainingCurves, title: &str, out: &Path) -> Result<(), PlotError> {
    let last_epoch = curves
        .losses
        .iter()
        .chain([&curves.lr])
        .chain(&curves.scores)
        .flat_map(|c| c.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let img = render(out, SIZE, |root| {
        root.fill(&WHITE)?;
        let root = root.titled(title, (FONT, 24))?;
        let panels = root.split_evenly((1, 3));
        let lr = std::slice::from_ref(&curves.lr);
        for (area, (name, lines, axis)) in panels.iter().zip([
            ("Loss", &curves.losses[..], Axis::Linear),
            ("Learning rate", lr, Axis::Log),
            ("Validation (%)", &curves.scores[..], Axis::Percent),
        ]) {
            let lines: Vec<(&str, Vec<(f64, f64)>)> = lines
                .iter()
                .map(|c| {
                    let points = c.points.iter().map(|&(x, y)| (x, axis.map(y)));
                    (
                        c.name.as_str(),
                        points.filter(|p| p.1.is_finite()).collect(),
                    )
                })
                .collect();
            let ys = lines.iter().flat_map(|l| l.1.iter().map(|p| p.1));
            let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
                (lo.min(y), hi.max(y))
            });
            let (lo, hi) = match axis {
                Axis::Percent => (0.0, 100.0),
                _ if lo > hi => (0.0, 1.0),
                _ => {
                    let pad = ((hi - lo) * 0.05).max(0.05);
                    (lo - pad, hi + pad)
                }
            };
            let mut chart = ChartBuilder::on(area)
                .caption(name, (FONT, 20))
                .margin(15)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(0.5..last_epoch + 0.5, lo..hi)?;
            let y_label = |y: &f64| match axis {
                Axis::Log => format!("{:.1e}", 10f64.powf(*y)),
                Axis::Linear => format!("{y:.2}"),
                Axis::Percent => format!("{y:.0}"),
            };
            chart
                .configure_mesh()
                .x_desc("Epoch")
                .axis_desc_style((FONT, 16))
                .label_style((FONT, 14))
                .x_label_formatter(&integer_label)
                .y_label_formatter(&y_label)
                .bold_line_style(GRID_BOLD)
                .light_line_style(GRID_LIGHT)
                .draw()?;
            for ((label, points), colour) in lines.into_iter().zip(COLOURS.iter().cycle()) {
                let style = colour.stroke_width(2);
                chart
                    .draw_series(LineSeries::new(points.iter().copied(), style))?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
                chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
            }
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight, 10, 14)?;
        }
        Ok(())
    })?;
    save_png(&img, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(name: &str, f: impl Fn(f64) -> f64) -> Curve {
        Curve {
            name: name.into(),
            points: (1..=12).map(|e| (f64::from(e), f(f64::from(e)))).collect(),
        }
    }

    /// Pixels of `img` in the panel `i` of 3 that have `colour`.
    fn count(img: &image::RgbImage, i: u32, colour: RGBColor) -> usize {
        let w = img.width() / 3;
        img.enumerate_pixels()
            .filter(|(x, _, p)| x / w == i && p.0 == [colour.0, colour.1, colour.2])
            .count()
    }

    #[test]
    fn draws_each_panel_and_survives_bad_values() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("run/training_curves.png");
        let mut scores = curve("rank-1", |e| e / 20.0);
        scores.points[3].1 = f64::NAN;
        let curves = TrainingCurves {
            losses: vec![curve("loss", |e| 8.0 / e), curve("loss_ce", |e| 7.0 / e)],
            lr: curve("lr", |e| if e < 7.0 { 3.5e-4 } else { 3.5e-5 }),
            scores: vec![scores, curve("mAP", |_| f64::INFINITY)],
        };
        plot_training(&curves, "test run", &out)?;
        let img = image::open(&out)?.to_rgb8();
        assert_eq!(img.dimensions(), SIZE);
        // Loss panel: two lines; lr panel: one; validation: rank-1 drawn, mAP (all infinite) not.
        assert!(count(&img, 0, COLOURS[0]) > 200 && count(&img, 0, COLOURS[1]) > 200);
        assert!(count(&img, 1, COLOURS[0]) > 200);
        assert!(count(&img, 2, COLOURS[0]) > 200);
        assert!(count(&img, 2, COLOURS[1]) < 100, "only the legend's swatch");

        // Nothing at all to draw still gives a picture.
        let empty = TrainingCurves {
            losses: vec![],
            lr: Curve {
                name: "lr".into(),
                points: vec![],
            },
            scores: vec![],
        };
        plot_training(&empty, "empty", &out)?;
        assert_eq!(image::open(&out)?.to_rgb8().dimensions(), SIZE);
        Ok(())
    }
}
