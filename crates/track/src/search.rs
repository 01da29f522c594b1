//! Person search: where does the person of a query crop appear in a set of camera frames? Every
//! frame's persons are detected and embedded; the nearest one to the query is the match when its
//! distance is at most the threshold. Results: `matches.json` and each frame with its boxes drawn
//! (the match thick green with its distance, other persons thin grey).

use crate::error::TrackError;
use crate::pipeline::Pipeline;
use indicatif::{ProgressBar, ProgressStyle};
use reid_data::Preprocessor;
use reid_evaluation::plots::{FrameBox, plot_boxes};
use reid_modeling::Detection;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// A detected person and its distance to the query.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    #[serde(flatten)]
    pub detection: Detection,
    pub distance: f32,
}

/// One frame's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct FrameResult {
    pub frame: PathBuf,
    /// Persons found, nearest to the query first.
    pub candidates: Vec<Candidate>,
    /// Whether the nearest candidate is within the match distance.
    pub matched: bool,
}

impl FrameResult {
    /// The matching person, when there is one.
    pub fn best(&self) -> Option<&Candidate> {
        self.candidates.first().filter(|_| self.matched)
    }
}

/// Searches `frames` for the person of the `query` crop.
pub fn search(
    pipeline: &mut Pipeline,
    query: &Path,
    frames: &[PathBuf],
    match_distance: f32,
) -> Result<Vec<FrameResult>, TrackError> {
    let q = pipeline.embed(&[Preprocessor::decode(query)?], query)?;
    let bar = ProgressBar::new(frames.len() as u64).with_style(
        ProgressStyle::with_template(
            "  search [{bar:30}] {pos}/{len} frames {per_sec:.1} ETA {eta}",
        )
        .expect("static template"),
    );
    let mut results = Vec::with_capacity(frames.len());
    for frame in frames {
        let img = Preprocessor::decode(frame)?;
        let mut candidates: Vec<Candidate> = pipeline
            .persons(&img, frame)?
            .into_iter()
            .map(|p| {
                let dot: f32 = p.embedding.iter().zip(q.row(0)).map(|(a, b)| a * b).sum();
                Candidate {
                    detection: p.detection,
                    distance: (2.0 - 2.0 * dot).max(0.0).sqrt(),
                }
            })
            .collect();
        candidates.sort_by(|a, b| a.distance.total_cmp(&b.distance));
        let matched = candidates
            .first()
            .is_some_and(|c| c.distance <= match_distance);
        results.push(FrameResult {
            frame: frame.clone(),
            candidates,
            matched,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(results)
}

/// Writes `out/matches.json` and `out/frames/<frame name>` with the boxes drawn.
pub fn write_results(results: &[FrameResult], out: &Path) -> Result<(), TrackError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| TrackError::Write { path, source }
    };
    let frames_dir = out.join("frames");
    std::fs::create_dir_all(&frames_dir).map_err(write_err(&frames_dir))?;
    for r in results {
        let img = Preprocessor::decode(&r.frame)?;
        let boxes: Vec<FrameBox> = r
            .candidates
            .iter()
            .enumerate()
            .rev()
            .map(|(i, c)| {
                let b = c.detection.bbox;
                let hit = i == 0 && r.matched;
                FrameBox {
                    x1: b.x1 as i32,
                    y1: b.y1 as i32,
                    x2: b.x2 as i32,
                    y2: b.y2 as i32,
                    color: if hit { [20, 200, 60] } else { [150, 150, 150] },
                    thickness: if hit { 4 } else { 2 },
                    label: if hit {
                        format!("match d={:.2}", c.distance)
                    } else {
                        String::new()
                    },
                }
            })
            .collect();
        let name = r.frame.file_name().unwrap_or_default();
        plot_boxes(&img, &boxes, &frames_dir.join(name))?;
    }
    let json = out.join("matches.json");
    let text = serde_json::to_string_pretty(results).expect("results serialise");
    std::fs::write(&json, text).map_err(write_err(&json))
}
