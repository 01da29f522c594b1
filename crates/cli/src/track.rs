//! `reid track`: person detector → ReID → tracks across frames and cameras, on video files or
//! image folders; writes tracks.jsonl, an annotated video per camera and summary.json.

use crate::common::load_spec;
use crate::search::{PipelineArgs, distances, pipeline};
use anyhow::{Context, Result, bail};
use reid_evaluation::mot::{MotBox, MotMetrics, evaluate_mot, read_ignore_file, read_mot_file};
use reid_track::run::{Camera, TrackOptions, TrackRecord};
use reid_track::tracker::TrackerConfig;
use reid_track::video::FrameSource;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `reid track`'s arguments.
#[derive(clap::Args, Debug)]
pub struct TrackArgs {
    /// Experiment spec (YAML); optional, its `track.*` keys are the defaults.
    #[arg(
        short = 'e',
        long = "experiment_spec",
        aliases = ["experiment-spec", "experiment_spec_file"]
    )]
    spec: Option<PathBuf>,
    /// A camera's video file (repeat for several cameras).
    #[arg(long = "video")]
    videos: Vec<PathBuf>,
    /// A camera's frames as images in a folder (repeatable).
    #[arg(long = "frames")]
    frames: Vec<PathBuf>,
    /// Results folder: tracks.jsonl, summary.json and the annotated videos.
    #[arg(
        short = 'r',
        long = "results_dir",
        visible_alias = "out",
        alias = "results-dir",
        default_value = "results/track"
    )]
    out: PathBuf,
    #[command(flatten)]
    models: PipelineArgs,
    /// Stop each camera after this many frames.
    #[arg(long = "max-frames")]
    max_frames: Option<usize>,
    /// Skip writing the annotated videos.
    #[arg(long = "no-video")]
    no_video: bool,
    /// Score the first camera against MOTChallenge ground truth (`frame,id,x,y,w,h`, 0-based
    /// frames) on the frames it labels: HOTA, CLEAR-MOT and IDF1 into summary.json's `mot`.
    #[arg(long)]
    gt: Option<PathBuf>,
    /// Ignore regions for `--gt` (`frame,x,y,w,h`).
    #[arg(long)]
    ignore: Option<PathBuf>,
    /// Spec overrides, `section.key=value`.
    overrides: Vec<String>,
}

fn camera_name(path: &Path, taken: &[Camera]) -> String {
    let stem = path
        .file_stem()
        .map_or_else(|| "camera".into(), |s| s.to_string_lossy().into_owned());
    let mut name = stem.clone();
    let mut n = 2;
    while taken.iter().any(|c| c.name == name) {
        name = format!("{stem}-{n}");
        n += 1;
    }
    name
}

pub fn run(args: &TrackArgs) -> Result<()> {
    let spec = load_spec(args.spec.as_deref(), Some(&args.out), &args.overrides)?;
    if args.videos.is_empty() && args.frames.is_empty() {
        bail!("give at least one --video FILE or --frames DIR");
    }
    let mut pipeline = pipeline(&spec, &args.models)?;
    let mut cameras = Vec::new();
    for v in &args.videos {
        let source = FrameSource::video(v)?;
        cameras.push(Camera {
            name: camera_name(v, &cameras),
            source,
        });
    }
    for d in &args.frames {
        let source = FrameSource::images(d)?;
        cameras.push(Camera {
            name: camera_name(d, &cameras),
            source,
        });
    }
    let t = &spec.track;
    let (_, global_distance) = distances(&spec)?;
    let opts = TrackOptions {
        tracker: TrackerConfig {
            high_score: t.high_score,
            n_init: t.n_init,
            max_age: t.max_age,
            ..TrackerConfig::default()
        },
        global_distance,
        max_frames: args.max_frames,
        write_video: !args.no_video,
    };
    let (summary, damage) = reid_track::run::track(&mut pipeline, cameras, &opts, &args.out)?;
    println!(
        "reid track: {} persons; {:.1} fps overall (stages: {})",
        summary.persons, summary.fps, summary.fps_per_stage
    );
    for c in &summary.cameras {
        println!(
            "  {}: {} frames, {} detections, {} tracks, {} persons, {:.1} fps",
            c.camera, c.frames, c.detections, c.tracks, c.persons, c.fps
        );
    }
    println!(
        "tracks.jsonl, summary.json and videos in {}",
        args.out.display()
    );
    if let Some(gt_path) = &args.gt {
        let first = &summary.cameras[0].camera;
        let m = score(gt_path, args.ignore.as_deref(), &args.out, first)?;
        println!("  {first} vs {}: {}", gt_path.display(), headline(&m));
        let path = args.out.join("summary.json");
        let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        json["mot"] = serde_json::to_value(&m)?;
        std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
    }
    match damage {
        Some(e) => Err(anyhow::Error::new(e).context("kept everything up to the damage")),
        None => Ok(()),
    }
}

/// HOTA (DetA, AssA, LocA), MOTA and IDF1 with their counts, on one line.
pub fn headline(m: &MotMetrics) -> String {
    let h = &m.hota;
    format!(
        "HOTA {:.3} (DetA {:.3}, AssA {:.3}, LocA {:.3}), MOTA {:.3}, IDF1 {:.3} ({} boxes, {} \
         misses, {} false positives, {} id switches)",
        h.hota,
        h.det_a,
        h.ass_a,
        h.loc_a,
        m.mota,
        m.idf1,
        m.gt_boxes,
        m.misses,
        m.false_positives,
        m.id_switches
    )
}

/// `reid track-eval`'s arguments: MOTChallenge files scored as TrackEval scores them.
#[derive(clap::Args, Debug)]
pub struct TrackEvalArgs {
    /// Ground truth, MOTChallenge `frame,id,x,y,w,h,…`.
    #[arg(long)]
    gt: PathBuf,
    /// The tracker's boxes in the same format (e.g. a `reid track` run's mot/<camera>.txt).
    #[arg(long)]
    tracks: PathBuf,
    /// Ignore regions `frame,x,y,w,h`.
    #[arg(long)]
    ignore: Option<PathBuf>,
    /// Frames of the sequence (TrackEval's seqLength; default: the last frame of either file),
    /// numbered from 1.
    #[arg(long = "seq-length")]
    seq_length: Option<usize>,
    /// Also write the metrics as JSON here.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// `reid track-eval`: HOTA, CLEAR-MOT and identity metrics of any MOTChallenge tracker file.
pub fn run_eval(args: &TrackEvalArgs) -> Result<()> {
    let truth = read_mot_file(&args.gt).map_err(anyhow::Error::msg)?;
    let hyp = read_mot_file(&args.tracks).map_err(anyhow::Error::msg)?;
    let ignore = match &args.ignore {
        Some(p) => read_ignore_file(p).map_err(anyhow::Error::msg)?,
        None => Vec::new(),
    };
    let last = truth.iter().chain(&hyp).map(|b| b.frame).max().unwrap_or(0);
    let frames: BTreeSet<usize> = (1..=args.seq_length.unwrap_or(last)).collect();
    let m = evaluate_mot(&frames, &truth, &hyp, &ignore, 0.5);
    println!(
        "reid track-eval: {} vs {} over {} frames: {}",
        args.tracks.display(),
        args.gt.display(),
        frames.len(),
        headline(&m)
    );
    if let Some(out) = &args.output {
        std::fs::write(out, serde_json::to_string_pretty(&m)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    Ok(())
}

/// The metrics of `camera`'s tracks in `out/tracks.jsonl` against the ground truth.
fn score(gt: &Path, ignore: Option<&Path>, out: &Path, camera: &str) -> Result<MotMetrics> {
    let truth = read_mot_file(gt).map_err(anyhow::Error::msg)?;
    let ignore = match ignore {
        Some(p) => read_ignore_file(p).map_err(anyhow::Error::msg)?,
        None => Vec::new(),
    };
    let frames: BTreeSet<usize> = truth.iter().map(|b| b.frame).collect();
    let mut hyp = Vec::new();
    for line in std::fs::read_to_string(out.join("tracks.jsonl"))?.lines() {
        let r: TrackRecord = serde_json::from_str(line)?;
        if r.camera == camera {
            hyp.push(MotBox {
                frame: r.frame,
                id: r.track_id,
                bbox: r.bbox,
            });
        }
    }
    Ok(evaluate_mot(&frames, &truth, &hyp, &ignore, 0.5))
}
