//! What every command does first: read the spec with its overrides, prepare the results folder
//! and thread pools, and resolve the model and data paths from the command's section with
//! `dataset.*` as fallback; plus feature extraction with the spec's settings.

use crate::CommonArgs;
use anyhow::{Context, Result, bail};
use reid_config::Spec;
use reid_data::{Preprocessor, dataset::summarize};
use reid_engine::{ExtractOptions, Extracted};
use reid_modeling::{Embedder, ModelKey};
use std::path::{Path, PathBuf};

/// A loaded spec and where its outputs go.
pub struct Experiment {
    pub spec: Spec,
    pub results_dir: PathBuf,
    /// The key model files are sealed with (`-k`, else the spec's `encryption_key`).
    pub key: Option<ModelKey>,
}

/// The model key from `-k`, else the spec's `encryption_key`.
pub fn model_key(flag: Option<&str>, spec: &Spec) -> Result<Option<ModelKey>> {
    Ok(flag
        .or(spec.encryption_key.as_deref())
        .map(ModelKey::new)
        .transpose()?)
}

impl Experiment {
    pub fn load(args: &CommonArgs) -> Result<Self> {
        let spec = Spec::load(&args.spec, &args.overrides)?;
        let key = model_key(args.key.as_deref(), &spec)?;
        std::fs::create_dir_all(&args.results_dir)
            .with_context(|| format!("cannot create results dir {}", args.results_dir.display()))?;
        let threads = spec.num_threads;
        // The global pool runs GEMM, metrics and re-ranking; failing means it already exists.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global();
        Ok(Self {
            spec,
            results_dir: args.results_dir.clone(),
            key,
        })
    }

    /// `results_dir/name`, created.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.results_dir.join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Opens a model with the spec's thread count.
    pub fn open_model(&self, path: &Path) -> Result<Box<dyn Embedder>> {
        Ok(reid_modeling::open_model(
            path,
            self.spec.num_threads,
            self.spec.device,
            self.key.as_ref(),
        )?)
    }

    /// How images are fed to `model`: its own recorded pre-processing (native checkpoints), else
    /// the spec's `model.input_*` / `dataset.pixel_*` / `dataset.channel_order`.
    pub fn preprocessor(&self, model: &dyn Embedder) -> Preprocessor {
        model
            .preprocessor()
            .unwrap_or_else(|| Preprocessor::from_spec(&self.spec))
    }

    /// Embeds `paths` with the spec's batch size, workers and flip setting, logging skipped files.
    pub fn embed(
        &self,
        model: &mut dyn Embedder,
        paths: &[PathBuf],
        label: &str,
    ) -> Result<Extracted> {
        let opts = ExtractOptions {
            batch_size: self.spec.dataset.val_batch_size,
            flip: self.spec.model.with_flip_feature,
            workers: self.spec.dataset.num_workers,
            label: label.to_owned(),
        };
        let started = std::time::Instant::now();
        let pre = self.preprocessor(model);
        let out = reid_engine::extract(model, &pre, paths, &opts)?;
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            "{label}: {} images embedded ({}-d) in {secs:.1} s, {:.1} img/s",
            out.ok.len(),
            out.features.dim,
            out.ok.len() as f64 / secs
        );
        if !out.failed.is_empty() {
            tracing::warn!(
                "{label}: {} images could not be read and were skipped{}",
                out.failed.len(),
                summarize(&out.failed)
            );
        }
        Ok(out)
    }
}

/// The first of `choices` that is set, or an error naming the keys that could set it.
pub fn required(choices: &[Option<&PathBuf>], keys: &str) -> Result<PathBuf> {
    match choices.iter().flatten().next() {
        Some(p) => Ok((*p).clone()),
        None => bail!(
            "missing setting: give {keys} (in the spec or as {}=…)",
            keys.split(" or ").next().unwrap_or(keys)
        ),
    }
}
