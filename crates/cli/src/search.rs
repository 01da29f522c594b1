//! `reid search`: finds the person of a query crop in full camera frames (person detector →
//! crops → ReID), writing `RESULTS_DIR/search/matches.json` and the frames with the match boxed.

use crate::common::model_key;
use anyhow::{Context, Result, bail};
use reid_config::Spec;
use reid_data::Preprocessor;
use reid_data::dataset::list_images;
use reid_modeling::Detector;
use reid_track::Pipeline;
use std::path::PathBuf;

/// `reid search`'s arguments.
#[derive(clap::Args, Debug)]
pub struct SearchArgs {
    /// Experiment spec (YAML); optional, its `track.*` keys are the defaults.
    #[arg(short = 'e', long = "experiment_spec", alias = "experiment-spec")]
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

/// The spec of `-e`, or the defaults, with the overrides applied.
pub fn load_spec(spec: Option<&PathBuf>, overrides: &[String]) -> Result<Spec> {
    Ok(match spec {
        Some(path) => Spec::load(path, overrides)?,
        None => Spec::from_yaml_str("", "the command line", overrides)?,
    })
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
    let detector = Detector::open(detector, spec.num_threads)
        .with_context(|| format!("cannot open the detector {}", detector.display()))?;
    let key = model_key(args.key.as_deref(), spec)?;
    let model = reid_modeling::open_model(model, spec.num_threads, spec.device, key.as_ref())
        .with_context(|| format!("cannot open the ReID model {}", model.display()))?;
    let pre = model
        .preprocessor()
        .unwrap_or_else(|| Preprocessor::from_spec(spec));
    reid_engine::extract::check_input_size(model.as_ref(), &pre)?;
    Ok(Pipeline {
        detector,
        model,
        pre,
        flip: spec.model.with_flip_feature,
        min_score: t.min_score,
    })
}

pub fn run(args: &SearchArgs) -> Result<()> {
    let spec = load_spec(args.spec.as_ref(), &args.overrides)?;
    let mut pipeline = pipeline(&spec, &args.models)?;
    let frames = list_images(&args.frames)?;
    if frames.is_empty() {
        bail!("{} holds no images", args.frames.display());
    }
    let results = reid_track::search::search(
        &mut pipeline,
        &args.query,
        &frames,
        spec.track.match_distance,
    )?;
    let out = args.results_dir.join("search");
    reid_track::search::write_results(&results, &out)?;
    let found = results.iter().filter(|r| r.matched).count();
    println!(
        "reid search: the query person is in {found} of {} frames (distance ≤ {})",
        results.len(),
        spec.track.match_distance
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
