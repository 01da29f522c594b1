//! `reid search`: finds the person of a query crop in full camera frames (person detector →
//! crops → ReID), writing `RESULTS_DIR/search/matches.json` and the frames with the match boxed.

use crate::common::{load_spec, model_key, open_model};
use anyhow::{Context, Result, bail};
use reid_config::Spec;
use reid_data::dataset::list_images;
use reid_engine::model::OpenModel;
use reid_modeling::Detector;
use reid_track::Pipeline;
use std::path::PathBuf;

/// `reid search`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// Experiment spec (YAML); optional, its `track.*` keys are the defaults.
    #[arg(
        short = 'e',
        long = "experiment_spec",
        aliases = ["experiment-spec", "experiment_spec_file"]
    )]
    spec: Option<PathBuf>,
    /// Results folder (the outputs go to RESULTS_DIR/search).
    #[arg(
        short = 'r',
        long = "results_dir",
        alias = "results-dir",
        default_value = "results"
    )]
    results_dir: PathBuf,
    /// The person to look for: a crop of them.
    #[arg(long)]
    query: PathBuf,
    /// Folder of camera frames.
    #[arg(long)]
    frames: PathBuf,
    #[command(flatten)]
    models: PipelineArgs,
    /// Spec overrides, `section.key=value`.
    overrides: Vec<String>,
}

/// The models of `reid search` and `reid track`.
#[derive(clap::Args, Debug)]
pub struct PipelineArgs {
    /// Person detector ONNX (`track.detector`).
    #[arg(long)]
    detector: Option<PathBuf>,
    /// ReID model, ONNX or checkpoint (`track.model`).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Key of encrypted model files (or the spec's `encryption_key`).
    #[arg(short = 'k', long = "key")]
    key: Option<String>,
}

/// The detection + ReID pipeline from the flags and the spec's `track.*` keys.
pub fn pipeline(spec: &Spec, args: &PipelineArgs) -> Result<Pipeline> {
    let t = &spec.track;
    let Some(detector) = args.detector.as_ref().or(t.detector.as_ref()) else {
        bail!("missing setting: give --detector or track.detector (a person detector ONNX)");
    };
    let Some(model) = args.model.as_ref().or(t.model.as_ref()) else {
        bail!("missing setting: give --model or track.model (a ReID ONNX model or checkpoint)");
    };
    reid_engine::model::use_threads(spec.num_threads);
    let detector = Detector::open(detector, spec.num_threads)
        .with_context(|| format!("cannot open the detector {}", detector.display()))?;
    let key = model_key(args.key.as_deref(), spec)?;
    let OpenModel { model, pre } = open_model(spec, model, key.as_ref())?;
    Ok(Pipeline {
        detector,
        model,
        pre,
        flip: spec.model.with_flip_feature,
        min_score: t.min_score,
    })
}

/// `track.match_distance` and `track.global_distance`, or, with `track.calibration`, its
/// verification threshold at `track.calibration_far` for both.
pub fn distances(spec: &Spec) -> Result<(f32, f32)> {
    let t = &spec.track;
    Ok(match &t.calibration {
        Some(results) => {
            let d = reid_engine::evaluation::calibrated_threshold(results, t.calibration_far)?;
            println!(
                "distance threshold {d:.4} (FAR {} in {})",
                t.calibration_far,
                results.display()
            );
            (d, d)
        }
        None => (t.match_distance, t.global_distance),
    })
}

pub fn run(args: &SearchArgs) -> Result<()> {
    let spec = load_spec(
        args.spec.as_deref(),
        Some(&args.results_dir),
        &args.overrides,
    )?;
    let mut pipeline = pipeline(&spec, &args.models)?;
    let frames = list_images(&args.frames)?;
    if frames.is_empty() {
        bail!("{} holds no images", args.frames.display());
    }
    let (match_distance, _) = distances(&spec)?;
    let results = reid_track::search::search(&mut pipeline, &args.query, &frames, match_distance)?;
    let out = args.results_dir.join("search");
    reid_track::search::write_results(&results, &out)?;
    let found = results.iter().filter(|r| r.matched).count();
    println!(
        "reid search: the query person is in {found} of {} frames (distance ≤ {match_distance})",
        results.len(),
    );
    for r in &results {
        let name = r.frame.file_name().unwrap_or_default().to_string_lossy();
        match r.best() {
            Some(c) => println!(
                "  {name}: match at distance {:.3}, {:?}",
                c.distance, c.detection.bbox
            ),
            None => println!(
                "  {name}: no match ({} persons, nearest {})",
                r.candidates.len(),
                r.candidates
                    .first()
                    .map_or("-".into(), |c| format!("{:.3}", c.distance))
            ),
        }
    }
    println!("frames with boxes and matches.json in {}", out.display());
    Ok(())
}
