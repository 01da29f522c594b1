//! Result pictures: the CMC curve ([`plot_cmc`]), the verification ROC curve ([`roc`]), the grid
//! of sampled queries with their top matches ([`plot_sampled_matches`]), camera frames with
//! labelled boxes ([`plot_boxes`]), a run's training curves ([`training`]) and a dataset's
//! images-per-identity histogram ([`histogram`]), all written as PNG files (frames as JPEG when
//! `out` says so).
//!
//! Drawing goes through plotters' bitmap backend into an RGB buffer that the `image` crate encodes.
//! Text uses the vendored DejaVu Sans (`assets/fonts`), so no system font is needed.

use std::fmt::Display;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use image::imageops::{self, FilterType};
use image::{ImageError, ImageFormat, RgbImage};
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, register_font};
use rayon::prelude::*;
use reid_data::Preprocessor;

pub mod histogram;
pub mod roc;
pub mod training;

/// Why a picture could not be written; every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Creating the output directory or writing the file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The `image` crate failed to encode the PNG.
    #[error("cannot encode {}: {source}", path.display())]
    Encode { path: PathBuf, source: ImageError },
    /// Drawing failed, or there was nothing sensible to draw.
    #[error("cannot draw {}: {message}", path.display())]
    Draw { path: PathBuf, message: String },
}

/// One row of the sampled-matches plot: a query crop and its top matches in rank order.
#[derive(Debug, Clone)]
pub struct MatchRow {
    /// Image file of the query crop.
    pub query: PathBuf,
    /// Text written under the query crop (e.g. its identity).
    pub query_label: String,
    /// Top matches, best first.
    pub matches: Vec<Match>,
}

/// One gallery match of a [`MatchRow`].
#[derive(Debug, Clone)]
pub struct Match {
    /// Image file of the gallery crop.
    pub path: PathBuf,
    /// Whether the match has the query's identity.
    pub correct: bool,
    /// Query-to-gallery distance, shown in the caption.
    pub distance: f32,
}

const FONT: &str = "sans-serif";
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The charts' shared style: grid lines and the legend's frame.
const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);
const GRID_LIGHT: RGBColor = RGBColor(240, 240, 240);
const LEGEND_BORDER: RGBColor = RGBColor(180, 180, 180);

const CMC_SIZE: (u32, u32) = (800, 600);
const CMC_LINE: RGBColor = RGBColor(31, 119, 180);
/// Ranks marked on the CMC curve, with their marker colours.
const CMC_MARKS: [(u32, RGBColor); 3] = [
    (1, RGBColor(230, 110, 0)),
    (5, RGBColor(200, 30, 60)),
    (10, RGBColor(120, 60, 170)),
];

/// Space around each crop in a grid cell; holds the coloured border.
const PAD: u32 = 8;
const BORDER: u32 = 4;
const CAPTION_H: u32 = 18;
/// Font sizes are kept even: at odd sizes plotters' ab_glyph text lifts dots off the baseline.
const CAPTION_PT: u32 = 12;
/// Narrow crops still get a cell wide enough for their caption.
const MIN_CELL_W: u32 = 72;
/// Gap (with a thin rule) between the query column and the matches.
const SEP: u32 = 12;
const QUERY_BLUE: RGBColor = RGBColor(40, 90, 220);
const CORRECT_GREEN: RGBColor = RGBColor(20, 170, 40);
const WRONG_RED: RGBColor = RGBColor(215, 30, 30);
const PLACEHOLDER_GREY: RGBColor = RGBColor(170, 170, 170);
const RULE_GREY: RGBColor = RGBColor(200, 200, 200);

/// Draws the CMC curve: `cmc[k]` is the rank-(k+1) matching rate in 0..1. Line plot of rank
/// 1..=`cmc.len()` against the rate in percent, with axis labels, `title`, a light grid and the
/// rank-1/5/10 points marked on the curve and their values listed in the legend. Writes an
/// 800×600 PNG to `out`, creating its parent directories. Non-finite rates are left out.
pub fn plot_cmc(cmc: &[f64], title: &str, out: &Path) -> Result<(), PlotError> {
    let points: Vec<(f64, f64)> = (1..)
        .zip(cmc)
        .filter(|(_, v)| v.is_finite())
        .map(|(k, v)| (f64::from(k), v * 100.0))
        .collect();
    let n = cmc.len().max(2) as f64;
    let x_pad = ((n - 1.0) * 0.02).max(0.3);
    let lowest = points.iter().map(|p| p.1).reduce(f64::min).unwrap_or(0.0);
    let (y_min, y_max) = percent_axis(lowest);

    let img = render(out, CMC_SIZE, |root| {
        root.fill(&WHITE)?;
        let mut chart = chart_frame(root, title)
            .build_cartesian_2d((1.0 - x_pad)..(n + x_pad), y_min..y_max)?;
        draw_axes(
            &mut chart,
            ("Rank", "Matching rate (%)"),
            16,
            &integer_label,
            &|y| format!("{y:.0}"),
        )?;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                CMC_LINE.stroke_width(2),
            ))?
            .label("CMC")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], CMC_LINE.stroke_width(2)));
        for (k, colour) in CMC_MARKS {
            if let Some(&(x, v)) = points.iter().find(|p| p.0 == f64::from(k)) {
                chart
                    .draw_series(std::iter::once(Circle::new((x, v), 5, colour.filled())))?
                    .label(format!("rank-{k}: {v:.1}%"))
                    .legend(move |(x, y)| Circle::new((x + 10, y), 5, colour.filled()));
            }
        }
        // A rising curve leaves the lower right free, unless it stays in the lower half.
        let ends_high = points.last().is_some_and(|p| p.1 > (y_min + y_max) / 2.0);
        let corner = if ends_high {
            SeriesLabelPosition::LowerRight
        } else {
            SeriesLabelPosition::UpperRight
        };
        draw_legend(&mut chart, corner, 15, 16)?;
        Ok(())
    })?;
    save_png(&img, out)
}

/// Draws the sampled-matches grid: one row per query, the query crop first (blue border), then its
/// matches in rank order with a thick green border when correct and red when wrong. Each crop is
/// resized to `thumb` = (width, height) and captioned: the query with its label, a match with its
/// rank and distance. A file that cannot be read or decoded is drawn as a grey "unreadable"
/// placeholder. Writes a PNG to `out`, creating its parent directories.
pub fn plot_sampled_matches(
    rows: &[MatchRow],
    thumb: (u32, u32),
    out: &Path,
) -> Result<(), PlotError> {
    if rows.is_empty() || thumb.0 == 0 || thumb.1 == 0 {
        return Err(draw_error(
            out,
            "need at least one row and a non-empty thumbnail size",
        ));
    }
    let cols = 1 + rows.iter().map(|r| r.matches.len()).max().unwrap_or(0);
    let grid = Grid {
        thumb,
        cols: cols as u32,
        rows: rows.len() as u32,
    };
    let crops: Vec<Vec<Option<RgbImage>>> = rows
        .par_iter()
        .map(|row| {
            std::iter::once(&row.query)
                .chain(row.matches.iter().map(|m| &m.path))
                .map(|path| load_thumb(path, thumb))
                .collect()
        })
        .collect();

    let (w, h) = grid.size();
    let (tw, th) = (thumb.0 as i32, thumb.1 as i32);
    let mut img = render(out, (w, h), |root| {
        root.fill(&WHITE)?;
        let rule_x = (grid.cell().0 + SEP / 2) as i32;
        root.draw(&Rectangle::new(
            [(rule_x - 1, 0), (rule_x, h as i32)],
            RULE_GREY.filled(),
        ))?;
        let caption_w = grid.cell().0 - 4;
        for (r, (row, row_crops)) in rows.iter().zip(&crops).enumerate() {
            let query = (QUERY_BLUE, row.query_label.clone());
            let matches = row.matches.iter().enumerate().map(|(i, m)| {
                let colour = if m.correct { CORRECT_GREEN } else { WRONG_RED };
                (
                    colour,
                    format!("#{} {}", i + 1, format_distance(m.distance)),
                )
            });
            for (c, ((colour, caption), crop)) in std::iter::once(query)
                .chain(matches)
                .zip(row_crops)
                .enumerate()
            {
                let (x, y) = grid.crop_at(r as u32, c as u32);
                let (x, y, b) = (x as i32, y as i32, BORDER as i32);
                root.draw(&Rectangle::new(
                    [(x - b, y - b), (x + tw + b - 1, y + th + b - 1)],
                    colour.filled(),
                ))?;
                if crop.is_none() {
                    root.draw(&Rectangle::new(
                        [(x, y), (x + tw - 1, y + th - 1)],
                        PLACEHOLDER_GREY.filled(),
                    ))?;
                    let centred = |pt| {
                        (FONT, pt)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Center))
                    };
                    let mut pt = CAPTION_PT;
                    while pt > 6
                        && root.estimate_text_size("unreadable", &centred(pt))?.0 + 4 > thumb.0
                    {
                        pt -= 2;
                    }
                    let style = centred(pt);
                    root.draw_text("unreadable", &style, (x + tw / 2, y + th / 2))?;
                }
                let style = (FONT, CAPTION_PT)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Top));
                let caption = fit_text(root, &caption, &style, caption_w)?;
                root.draw_text(&caption, &style, (x + tw / 2, y + th + b + 4))?;
            }
        }
        Ok(())
    })?;
    for (r, row_crops) in crops.iter().enumerate() {
        for (c, crop) in row_crops.iter().enumerate() {
            if let Some(crop) = crop {
                let (x, y) = grid.crop_at(r as u32, c as u32);
                imageops::replace(&mut img, crop, i64::from(x), i64::from(y));
            }
        }
    }
    save_png(&img, out)
}

/// Pixel geometry of the sampled-matches grid.
struct Grid {
    thumb: (u32, u32),
    cols: u32,
    rows: u32,
}

impl Grid {
    /// (width, height) of one cell: crop, border padding and caption.
    fn cell(&self) -> (u32, u32) {
        (
            self.thumb.0.max(MIN_CELL_W) + 2 * PAD,
            self.thumb.1 + 2 * PAD + CAPTION_H,
        )
    }

    /// (width, height) of the whole picture.
    fn size(&self) -> (u32, u32) {
        let (cw, ch) = self.cell();
        (self.cols * cw + SEP, self.rows * ch)
    }

    /// Top-left pixel of the crop in row `r`, column `c` (column 0 is the query).
    fn crop_at(&self, r: u32, c: u32) -> (u32, u32) {
        let (cw, ch) = self.cell();
        let sep = if c > 0 { SEP } else { 0 };
        (c * cw + sep + (cw - self.thumb.0) / 2, r * ch + PAD)
    }
}

/// Decodes an image with the shared decoder and resizes it to `thumb`.
fn load_thumb(path: &Path, (w, h): (u32, u32)) -> Option<RgbImage> {
    let img = Preprocessor::decode(path).ok()?;
    Some(imageops::resize(&img, w, h, FilterType::Triangle))
}

/// A distance with about four significant digits.
fn format_distance(d: f32) -> String {
    match d.abs() {
        a if a < 10.0 => format!("{d:.3}"),
        a if a < 1000.0 => format!("{d:.1}"),
        _ => format!("{d:.0}"),
    }
}

/// `text`, shortened with an ellipsis until it is at most `max_w` pixels wide.
fn fit_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_w: u32,
) -> Result<String, DrawingAreaErrorKind<DB::ErrorType>> {
    if area.estimate_text_size(text, style)?.0 <= max_w {
        return Ok(text.to_owned());
    }
    let mut chars: Vec<char> = text.chars().collect();
    while chars.pop().is_some() {
        let short: String = chars.iter().chain(['…'].iter()).collect();
        if area.estimate_text_size(&short, style)?.0 <= max_w {
            return Ok(short);
        }
    }
    Ok(String::new())
}

/// Draws `chart`'s legend in the charts' style at `position`, `margin` pixels from the corner,
/// in `pt`-point text.
fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
    margin: u32,
    pt: u32,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .margin(margin)
        .label_font((FONT, pt))
        .background_style(WHITE.mix(0.9))
        .border_style(LEGEND_BORDER)
        .draw()
}

/// A percent axis from the multiple of 10 below `lowest` (at most 90) to a little above 100.
fn percent_axis(lowest: f64) -> (f64, f64) {
    let y_min = ((lowest - 5.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0;
    (y_min, 100.0 + 0.03 * (100.0 - y_min))
}

/// An 800×600 chart's frame in the charts' style: `title` on top, room for the axis labels.
fn chart_frame<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, (FONT, 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(65);
    builder
}

/// Draws `chart`'s axes in the charts' style: `x_desc` / `y_desc` titles in `pt + 2`-point text,
/// tick labels in `pt`-point text formatted by `x_label` / `y_label`, and the light grid.
fn draw_axes<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    (x_desc, y_desc): (&str, &str),
    pt: u32,
    x_label: &dyn Fn(&X::ValueType) -> String,
    y_label: &dyn Fn(&Y::ValueType) -> String,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    X: Ranged + ValueFormatter<X::ValueType>,
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .axis_desc_style((FONT, pt + 2))
        .label_style((FONT, pt))
        .x_label_formatter(x_label)
        .y_label_formatter(y_label)
        .bold_line_style(GRID_BOLD)
        .light_line_style(GRID_LIGHT)
        .draw()
}

/// Axis label for a whole-number axis (ranks, epochs): the number at integers, nothing between.
fn integer_label(x: &f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

/// Registers the embedded DejaVu Sans with plotters once; false if the font was rejected.
fn font_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok())
}

/// What drawing on the bitmap canvas returns.
type DrawResult =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

/// Runs `draw` on a fresh `size` RGB canvas and returns the pixels.
fn render(
    out: &Path,
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> Result<RgbImage, PlotError> {
    render_into(out, vec![0u8; w as usize * h as usize * 3], (w, h), draw)
}

/// Runs `draw` on `buf`, a `w × h` RGB picture, and returns the pixels.
fn render_into(
    out: &Path,
    mut buf: Vec<u8>,
    (w, h): (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
) -> Result<RgbImage, PlotError> {
    if !font_ready() {
        return Err(draw_error(
            out,
            "the embedded DejaVu Sans font was rejected",
        ));
    }
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        draw(&root).map_err(|e| draw_error(out, e))?;
        root.present().map_err(|e| draw_error(out, e))?;
    }
    RgbImage::from_raw(w, h, buf).ok_or_else(|| draw_error(out, "pixel buffer has the wrong size"))
}

/// A box to draw on a frame: corners in pixels, colour, line width and a caption above it.
#[derive(Debug, Clone)]
pub struct FrameBox {
    pub x1: i32,
    pub y1: i32,
    pub x2: i32,
    pub y2: i32,
    pub color: [u8; 3],
    pub thickness: u32,
    pub label: String,
}

/// Writes `frame` with `boxes` drawn on it to `out` (PNG, or JPEG for `.jpg`/`.jpeg`).
pub fn plot_boxes(frame: &RgbImage, boxes: &[FrameBox], out: &Path) -> Result<(), PlotError> {
    let img = draw_boxes(frame, boxes, out)?;
    let jpeg = out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"));
    if jpeg {
        save_image(&img, out, ImageFormat::Jpeg)
    } else {
        save_png(&img, out)
    }
}

/// `frame` with `boxes` drawn on it (`what` names the picture in errors).
pub fn draw_boxes(
    frame: &RgbImage,
    boxes: &[FrameBox],
    what: &Path,
) -> Result<RgbImage, PlotError> {
    let (w, h) = frame.dimensions();
    render_into(what, frame.as_raw().clone(), (w, h), |root| {
        let size = (h / 40).clamp(12, 32) / 2 * 2;
        for b in boxes {
            let color = RGBColor(b.color[0], b.color[1], b.color[2]);
            for t in 0..b.thickness as i32 {
                root.draw(&Rectangle::new(
                    [(b.x1 - t, b.y1 - t), (b.x2 + t, b.y2 + t)],
                    color.stroke_width(1),
                ))?;
            }
            if !b.label.is_empty() {
                let style = TextStyle::from((FONT, size).into_font()).color(&WHITE);
                let (tw, th) = root.estimate_text_size(&b.label, &style)?;
                let top = (b.y1 - th as i32 - 6).max(0);
                root.draw(&Rectangle::new(
                    [(b.x1 - 1, top), (b.x1 + tw as i32 + 6, top + th as i32 + 6)],
                    color.filled(),
                ))?;
                root.draw(&Text::new(b.label.clone(), (b.x1 + 3, top + 3), style))?;
            }
        }
        Ok(())
    })
}

fn draw_error(out: &Path, message: impl Display) -> PlotError {
    PlotError::Draw {
        path: out.to_path_buf(),
        message: message.to_string(),
    }
}

/// Writes `img` to `out` as PNG, creating the parent directories.
fn save_png(img: &RgbImage, out: &Path) -> Result<(), PlotError> {
    save_image(img, out, ImageFormat::Png)
}

/// Writes `img` to `out` in `format`, creating the parent directories.
fn save_image(img: &RgbImage, out: &Path, format: ImageFormat) -> Result<(), PlotError> {
    let io = |source| PlotError::Io {
        path: out.to_path_buf(),
        source,
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let mut file = BufWriter::new(File::create(out).map_err(io)?);
    img.write_to(&mut file, format).map_err(|e| match e {
        ImageError::IoError(source) => io(source),
        source => PlotError::Encode {
            path: out.to_path_buf(),
            source,
        },
    })?;
    file.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::error::Error;

    type TestResult = Result<(), Box<dyn Error>>;

    #[test]
    fn plots_cmc_png() -> TestResult {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("nested/dir/cmc.png");
        let cmc: Vec<f64> = (0..50)
            .map(|k| 1.0 - 0.6 * (-f64::from(k) / 6.0).exp())
            .collect();
        plot_cmc(&cmc, "CMC: monotone test curve", &out)?;
        let img = image::open(&out)?.to_rgb8();
        assert_eq!(img.dimensions(), CMC_SIZE);
        let colours: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(
            colours.len() > 50,
            "only {} distinct colours: blank plot?",
            colours.len()
        );
        Ok(())
    }

    fn dominant(p: [u8; 3], channel: usize) -> bool {
        (0..3)
            .filter(|&c| c != channel)
            .all(|c| i32::from(p[channel]) > i32::from(p[c]) + 60)
    }

    #[test]
    fn plots_sampled_matches_grid() -> TestResult {
        let data = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/cuhk03-market"
        ));
        if !data.is_dir() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{} required when CI=true",
                data.display()
            );
            println!("skipped: dataset {} not found", data.display());
            return Ok(());
        }
        let gallery_of = |id: &str| -> std::io::Result<Vec<PathBuf>> {
            let mut files: Vec<PathBuf> = fs::read_dir(data.join("bounding_box_test"))?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()?;
            files.retain(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{id}_")))
            });
            files.sort();
            Ok(files)
        };
        let (g1, g2) = (gallery_of("1001")?, gallery_of("1002")?);
        assert!(
            g1.len() >= 2 && g2.len() >= 2,
            "expected gallery crops of ids 1001 and 1002"
        );
        let dir = tempfile::tempdir()?;
        let corrupt = dir.path().join("corrupt.jpg");
        fs::write(&corrupt, b"\xff\xd8\xff this is not a JPEG")?;
        let m = |path: &PathBuf, correct, distance| Match {
            path: path.clone(),
            correct,
            distance,
        };
        let rows = vec![
            MatchRow {
                query: data.join("query/1001_c1s1_000000_00.jpg"),
                query_label: "id 1001".into(),
                matches: vec![
                    m(&g1[0], true, 0.412),
                    m(&g2[0], false, 0.587),
                    m(&corrupt, false, 0.6),
                    m(&g1[1], true, 0.71),
                ],
            },
            MatchRow {
                query: data.join("query/1002_c1s1_000000_00.jpg"),
                query_label: "id 1002 with a rather long label".into(),
                matches: vec![m(&g1[1], false, 12.5), m(&g2[1], true, 13.25)],
            },
            MatchRow {
                query: corrupt.clone(),
                query_label: "broken".into(),
                matches: vec![m(&g2[0], true, 1.0)],
            },
        ];
        let thumb = (64, 128);
        let out = dir.path().join("plots/matches.png");
        plot_sampled_matches(&rows, thumb, &out)?;

        let img = image::open(&out)?.to_rgb8();
        let (cols, n_rows) = (5, 3);
        let cell_w = thumb.0.max(MIN_CELL_W) + 2 * PAD;
        let cell_h = thumb.1 + 2 * PAD + CAPTION_H;
        assert_eq!(img.dimensions(), (cols * cell_w + SEP, n_rows * cell_h));

        let grid = Grid {
            thumb,
            cols,
            rows: n_rows,
        };
        let border = |r, c| {
            let (x, y) = grid.crop_at(r, c);
            img.get_pixel(x - BORDER / 2, y + thumb.1 / 2).0
        };
        assert!(
            dominant(border(0, 0), 2),
            "query border {:?} not blue",
            border(0, 0)
        );
        assert!(
            dominant(border(0, 1), 1),
            "correct border {:?} not green",
            border(0, 1)
        );
        assert!(
            dominant(border(0, 2), 0),
            "wrong border {:?} not red",
            border(0, 2)
        );
        assert!(
            dominant(border(1, 2), 1),
            "correct border {:?} not green",
            border(1, 2)
        );
        let (x, y) = grid.crop_at(0, 3);
        let p = img.get_pixel(x + 3, y + 3).0;
        assert!(
            p[0] == p[1] && p[1] == p[2] && p[0] > 100,
            "placeholder pixel {p:?} not grey"
        );
        Ok(())
    }
}
