//! The picture of `reid dataset stats` ([`plot_images_per_identity`]): for each split, how
//! many identities have 1, 2, 3, … images, as side-by-side bars (counts above the last bin are
//! added to it).

use super::{CMC_SIZE, PlotError, chart_frame, draw_axes, draw_legend, render, save_png};
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Bins of the x axis: 1 … `MAX_BIN` images, the last holding everything above.
const MAX_BIN: usize = 30;
/// One colour per split, in order.
const COLOURS: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
];

/// Draws the histograms of `splits` (name, images per identity → identities) as an 800×600 PNG
/// at `out`, creating its parent directories.
pub fn plot_images_per_identity(
    splits: &[(&str, &BTreeMap<usize, usize>)],
    out: &Path,
) -> Result<(), PlotError> {
    let top = splits
        .iter()
        .flat_map(|(_, h)| h.keys().copied())
        .max()
        .unwrap_or(1)
        .clamp(1, MAX_BIN);
    let binned: Vec<Vec<usize>> = splits
        .iter()
        .map(|(_, h)| {
            let mut bins = vec![0; top + 1];
            for (&n, &ids) in h.iter() {
                bins[n.clamp(1, top)] += ids;
            }
            bins
        })
        .collect();
    let y_max = binned.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let width = 0.8 / splits.len().max(1) as f64;
    let img = render(out, CMC_SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = chart_frame(root, "Images per identity")
            .build_cartesian_2d(0.5..top as f64 + 0.5, 0.0..y_max)?;
        let x_desc = if top == MAX_BIN {
            format!("Images of the identity ({MAX_BIN}: {MAX_BIN} or more)")
        } else {
            "Images of the identity".to_owned()
        };
        draw_axes(
            &mut chart,
            (&x_desc, "Identities"),
            16,
            &super::integer_label,
            &|y| format!("{y:.0}"),
        )?;
        for (s, ((name, _), bins)) in splits.iter().zip(&binned).enumerate() {
            let colour = COLOURS[s % COLOURS.len()];
            let left = -0.4 + s as f64 * width;
            chart
                .draw_series((1..=top).filter(|&n| bins[n] > 0).map(|n| {
                    let x = n as f64 + left;
                    Rectangle::new([(x, 0.0), (x + width, bins[n] as f64)], colour.filled())
                }))?
                .label(format!("{name} ({} ids)", bins.iter().sum::<usize>()))
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
        }
        // The legend goes to the side away from the tallest bar.
        let tallest = binned
            .iter()
            .flat_map(|b| b.iter().enumerate())
            .max_by_key(|(_, n)| **n)
            .map_or(0, |(i, _)| i);
        let corner = if tallest * 2 > top {
            SeriesLabelPosition::UpperLeft
        } else {
            SeriesLabelPosition::UpperRight
        };
        draw_legend(&mut chart, corner, 10, 15)
    })?;
    save_png(&img, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_bar_colour_per_split() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("h.png");
        let train = BTreeMap::from([(2, 5), (4, 10), (40, 1)]);
        let query = BTreeMap::from([(2, 7)]);
        plot_images_per_identity(&[("train", &train), ("query", &query)], &out).unwrap();
        let img = image::open(&out).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), CMC_SIZE);
        let has = |c: RGBColor| img.pixels().any(|p| p.0 == [c.0, c.1, c.2]);
        assert!(has(COLOURS[0]) && has(COLOURS[1]) && !has(COLOURS[2]));
    }
}
