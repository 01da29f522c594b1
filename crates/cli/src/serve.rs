//! `reid serve`: the embedding and gallery-search service, configured by the spec's `serve.*`
//! keys (the flags win) and the model's pre-processing (its metadata, else the spec's).

use crate::common::{load_spec, model_key, open_model};
use anyhow::{Result, bail};
use reid_engine::model::OpenModel;
use reid_engine::ranking::rerank_params;
use reid_serve::ServeOptions;
use reid_serve::api::Limits;
use reid_serve::batcher::BatchPolicy;
use std::path::PathBuf;
use std::time::Duration;

/// `reid serve`'s arguments: TAO's `-e` and overrides, plus the service's own flags.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Experiment spec (YAML).
    #[arg(
        short = 'e',
        long = "experiment_spec",
        aliases = ["experiment-spec", "experiment_spec_file"]
    )]
    spec: PathBuf,
    /// Results folder; the gallery goes to RESULTS_DIR/serve/gallery unless a store is given.
    #[arg(short = 'r', long = "results_dir", alias = "results-dir")]
    results_dir: Option<PathBuf>,
    /// Model: ONNX or a native checkpoint (`serve.model`).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Listen address (`serve.addr`, default 127.0.0.1:8080; port 0 picks a free one).
    #[arg(long)]
    addr: Option<String>,
    /// Gallery store: a folder or `milvus://HOST:PORT[/COLLECTION]` (`serve.store`).
    #[arg(long)]
    store: Option<String>,
    /// Bearer token for /v1 and /metrics (`serve.token`, or the REID_TOKEN variable).
    #[arg(long)]
    token: Option<String>,
    /// Key of encrypted model files (or the spec's `encryption_key`).
    #[arg(short = 'k', long = "key")]
    key: Option<String>,
    /// Spec overrides, `section.key=value`.
    overrides: Vec<String>,
}

pub fn run(args: &ServeArgs) -> Result<()> {
    let spec = load_spec(
        Some(&args.spec),
        args.results_dir.as_deref(),
        &args.overrides,
    )?;
    let cfg = &spec.serve;
    let Some(model_path) = args.model.clone().or_else(|| cfg.model.clone()) else {
        bail!("missing setting: give --model or serve.model (an ONNX model or a checkpoint)");
    };
    let store = match (&args.store, &cfg.store, &args.results_dir) {
        (Some(s), _, _) | (None, Some(s), _) => s.clone(),
        (None, None, Some(r)) => r.join("serve/gallery").display().to_string(),
        (None, None, None) => bail!("missing setting: give --store, serve.store or -r RESULTS_DIR"),
    };
    let token = args
        .token
        .clone()
        .or_else(|| cfg.token.clone())
        .or_else(|| std::env::var("REID_TOKEN").ok())
        .filter(|t| !t.is_empty());
    reid_engine::model::use_threads(spec.num_threads);
    let key = model_key(args.key.as_deref(), &spec)?;
    let OpenModel { model, pre } = open_model(&spec, &model_path, key.as_ref())?;
    let opts = ServeOptions {
        addr: args.addr.clone().unwrap_or_else(|| cfg.addr.clone()),
        store,
        token,
        batch: BatchPolicy {
            max_batch: cfg.max_batch,
            max_wait: Duration::from_millis(cfg.max_wait_ms),
            flip: spec.model.with_flip_feature,
        },
        limits: Limits {
            max_body_bytes: cfg.max_body_bytes,
            max_image_pixels: cfg.max_image_pixels,
            max_top_k: cfg.max_top_k,
        },
        rerank: rerank_params(&spec.re_ranking),
    };
    reid_serve::serve(opts, model, pre)?;
    Ok(())
}
