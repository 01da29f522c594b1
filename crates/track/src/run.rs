//! `reid track`: each camera's frames through detection → ReID → tracking, one camera after the
//! other, with global identities across cameras from an in-process gallery of track
//! appearances. Writes `tracks.jsonl` (one line per confirmed track seen in a frame), the same
//! tracks in MOTChallenge form per camera (`mot/<camera>.txt`, for TrackEval), an annotated
//! video per camera and `summary.json` (persons, per-camera counts, fps per stage).
//! A damaged video ends its camera early; what was processed is kept and the damage reported.

use crate::error::TrackError;
use crate::pipeline::Pipeline;
use crate::tracker::{Tracker, TrackerConfig};
use crate::video::{FrameSource, VideoWriter};
use indicatif::{ProgressBar, ProgressStyle};
use reid_evaluation::plots::{FrameBox, draw_boxes};
use reid_modeling::BBox;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One camera's input.
pub struct Camera {
    pub name: String,
    pub source: FrameSource,
}

#[derive(Debug, Clone, Copy)]
pub struct TrackOptions {
    pub tracker: TrackerConfig,
    /// A new track takes the identity of the nearest known person (not currently tracked in the
    /// same camera) when their appearance distance (Euclidean, unit vectors) is at most this.
    pub global_distance: f32,
    pub max_frames: Option<usize>,
    pub write_video: bool,
}

/// One line of `tracks.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackRecord {
    pub camera: String,
    pub frame: usize,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub score: f32,
    pub track_id: u64,
    pub global_id: u64,
}

/// Seconds spent per stage.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageSeconds {
    pub decode: f64,
    pub detect: f64,
    pub embed: f64,
    pub track: f64,
    pub write: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CameraSummary {
    pub camera: String,
    pub frames: usize,
    pub detections: usize,
    pub tracks: usize,
    pub persons: usize,
    pub seconds: StageSeconds,
    pub fps: f64,
    /// Why the camera ended early, when it did.
    pub stopped: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub persons: usize,
    pub cameras: Vec<CameraSummary>,
    pub fps_per_stage: serde_json::Value,
    pub fps: f64,
}

/// People seen so far, across cameras.
#[derive(Default)]
struct Gallery {
    /// (global id, unit appearance).
    people: Vec<(u64, Vec<f32>)>,
}

impl Gallery {
    /// The identity for a newly confirmed track: the nearest known person within `max`, not in
    /// `taken`, or a new one.
    fn identify(&mut self, embedding: &[f32], taken: &HashSet<u64>, max: f32) -> u64 {
        let nearest = self
            .people
            .iter()
            .filter(|(id, _)| !taken.contains(id))
            .map(|(id, e)| {
                let dot: f32 = e.iter().zip(embedding).map(|(a, b)| a * b).sum();
                (*id, (2.0 - 2.0 * dot).max(0.0).sqrt())
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match nearest {
            Some((id, d)) if d <= max => id,
            _ => {
                let id = self.people.len() as u64 + 1;
                self.people.push((id, embedding.to_vec()));
                id
            }
        }
    }

    /// Moves a person's appearance towards a track's.
    fn refresh(&mut self, id: u64, embedding: &[f32]) {
        if let Some((_, e)) = self.people.iter_mut().find(|(p, _)| *p == id) {
            e.iter_mut()
                .zip(embedding)
                .for_each(|(a, b)| *a = 0.95 * *a + 0.05 * b);
            reid_data::l2_normalize(e);
        }
    }
}

fn colour(id: u64) -> [u8; 3] {
    const PALETTE: [[u8; 3]; 8] = [
        [230, 25, 75],
        [60, 180, 75],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
        [210, 245, 60],
    ];
    PALETTE[(id as usize) % PALETTE.len()]
}

/// A camera's MOTChallenge file (`frame,id,x,y,w,h,conf,-1,-1,-1`, frames from 1, the
/// global id as the identity), its folder created.
fn mot_writer(path: &Path) -> Result<BufWriter<std::fs::File>, TrackError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    }
    Ok(BufWriter::new(
        std::fs::File::create(path).map_err(write_err(path))?,
    ))
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrackError + '_ {
    move |source| TrackError::Write {
        path: path.to_owned(),
        source,
    }
}

/// Tracks every camera into `out`; returns the summary (also written) and the first damage
/// met, if any, after everything else is written.
pub fn track(
    pipeline: &mut Pipeline,
    cameras: Vec<Camera>,
    opts: &TrackOptions,
    out: &Path,
) -> Result<(Summary, Option<TrackError>), TrackError> {
    std::fs::create_dir_all(out).map_err(write_err(out))?;
    let jsonl_path = out.join("tracks.jsonl");
    let mut jsonl =
        BufWriter::new(std::fs::File::create(&jsonl_path).map_err(write_err(&jsonl_path))?);
    let mut gallery = Gallery::default();
    let mut summaries = Vec::new();
    let mut damage = None;
    for mut camera in cameras {
        let started = Instant::now();
        let mut tracker = Tracker::new(opts.tracker);
        let mut secs = StageSeconds::default();
        let (mut frames, mut detections) = (0, 0);
        let mut track_ids = HashSet::new();
        let mut people = HashSet::new();
        let mut writer: Option<VideoWriter> = None;
        let video_path = out.join(format!("{}.mp4", camera.name));
        let mot_path = out.join("mot").join(format!("{}.txt", camera.name));
        let mut mot = mot_writer(&mot_path)?;
        let bar = ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{prefix:>10} {pos} frames, {per_sec:.1} ({elapsed})")
                .expect("static template"),
        );
        bar.set_prefix(camera.name.clone());
        let mut stopped = None;
        loop {
            if opts.max_frames.is_some_and(|m| frames >= m) {
                break;
            }
            let t = Instant::now();
            let (index, frame) = match camera.source.next_frame() {
                None => break,
                Some(Ok(f)) => f,
                Some(Err(e)) => {
                    stopped = Some(e.to_string());
                    damage.get_or_insert(e);
                    break;
                }
            };
            secs.decode += t.elapsed().as_secs_f64();
            let what = PathBuf::from(format!("{} frame {index}", camera.name));
            let t = Instant::now();
            let (found, crops) = pipeline.detect(&frame)?;
            secs.detect += t.elapsed().as_secs_f64();
            detections += found.len();
            let t = Instant::now();
            let persons = pipeline.describe(found, &crops, &what)?;
            secs.embed += t.elapsed().as_secs_f64();

            let t = Instant::now();
            tracker.step(&persons);
            let mut taken: HashSet<u64> =
                tracker.tracks.iter().filter_map(|t| t.global_id).collect();
            let mut records = Vec::new();
            for track in tracker.tracks.iter_mut().filter(|t| t.confirmed) {
                let Some(det) = track.current else { continue };
                let gid = match track.global_id {
                    Some(g) => g,
                    None => {
                        let g = gallery.identify(&track.embedding, &taken, opts.global_distance);
                        taken.insert(g);
                        track.global_id = Some(g);
                        g
                    }
                };
                gallery.refresh(gid, &track.embedding);
                track_ids.insert(track.id);
                people.insert(gid);
                let BBox { x1, y1, x2, y2 } = det.bbox;
                records.push(TrackRecord {
                    camera: camera.name.clone(),
                    frame: index,
                    bbox: [x1, y1, x2, y2],
                    score: det.score,
                    track_id: track.id,
                    global_id: gid,
                });
            }
            secs.track += t.elapsed().as_secs_f64();

            let t = Instant::now();
            for r in &records {
                serde_json::to_writer(&mut jsonl, r).expect("records serialise");
                jsonl.write_all(b"\n").map_err(write_err(&jsonl_path))?;
                let [x1, y1, x2, y2] = r.bbox;
                writeln!(
                    mot,
                    "{},{},{x1:.2},{y1:.2},{:.2},{:.2},{:.4},-1,-1,-1",
                    r.frame + 1,
                    r.global_id,
                    x2 - x1,
                    y2 - y1,
                    r.score
                )
                .map_err(write_err(&mot_path))?;
            }
            if opts.write_video {
                let boxes: Vec<FrameBox> = records
                    .iter()
                    .map(|r| FrameBox {
                        x1: r.bbox[0] as i32,
                        y1: r.bbox[1] as i32,
                        x2: r.bbox[2] as i32,
                        y2: r.bbox[3] as i32,
                        color: colour(r.global_id),
                        thickness: 2,
                        label: format!("{} · t{}", r.global_id, r.track_id),
                    })
                    .collect();
                let drawn = draw_boxes(&frame, &boxes, &video_path)?;
                if writer.is_none() {
                    let (w, h) = drawn.dimensions();
                    writer = Some(VideoWriter::create(&video_path, w, h, camera.source.fps())?);
                }
                writer.as_mut().expect("created").write(&drawn)?;
            }
            secs.write += t.elapsed().as_secs_f64();
            frames += 1;
            bar.inc(1);
        }
        bar.finish_and_clear();
        mot.flush().map_err(write_err(&mot_path))?;
        if let Some(w) = writer {
            w.finish()?;
        }
        let total = started.elapsed().as_secs_f64();
        summaries.push(CameraSummary {
            camera: camera.name,
            frames,
            detections,
            tracks: track_ids.len(),
            persons: people.len(),
            seconds: secs,
            fps: frames as f64 / total.max(1e-9),
            stopped,
        });
    }
    jsonl.flush().map_err(write_err(&jsonl_path))?;
    let frames: usize = summaries.iter().map(|c| c.frames).sum();
    let sum = |f: fn(&StageSeconds) -> f64| summaries.iter().map(|c| f(&c.seconds)).sum::<f64>();
    let per_stage = |s: f64| if s > 0.0 { frames as f64 / s } else { 0.0 };
    let all = sum(|s| s.decode + s.detect + s.embed + s.track + s.write);
    let summary = Summary {
        persons: gallery.people.len(),
        fps_per_stage: serde_json::json!({
            "decode": per_stage(sum(|s| s.decode)),
            "detect": per_stage(sum(|s| s.detect)),
            "embed": per_stage(sum(|s| s.embed)),
            "track": per_stage(sum(|s| s.track)),
            "write": per_stage(sum(|s| s.write)),
        }),
        fps: per_stage(all),
        cameras: summaries,
    };
    let path = out.join("summary.json");
    let text = serde_json::to_string_pretty(&summary).expect("summary serialises");
    std::fs::write(&path, text).map_err(write_err(&path))?;
    Ok((summary, damage))
}
