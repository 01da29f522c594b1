//! What every command does first: read the spec with its overrides, prepare the results folder
//! and the thread pool, open models and image sets as the spec says.

use crate::CommonArgs;
use anyhow::{Context, Result, bail};
use reid_config::{DataSource, Spec};
use reid_data::ImageSet;
use reid_engine::Extracted;
use reid_engine::evaluation::{embed_paths, extract_options};
use reid_engine::model::OpenModel;
use reid_modeling::ModelKey;
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

/// Opens a model as `spec` says (threads, device, pre-processing), unsealed with `key`.
pub fn open_model(spec: &Spec, path: &Path, key: Option<&ModelKey>) -> Result<OpenModel> {
    reid_engine::model::open(spec, path, key)
        .with_context(|| format!("cannot open the model {}", path.display()))
}

/// The spec of `path` (or the defaults) with `results_dir` set to `-r` where given (so
/// `${results_dir}` refers to it) and the command-line overrides; TAO's GPU keys resolved to a
/// device.
pub fn load_spec(
    path: Option<&Path>,
    results_dir: Option<&Path>,
    overrides: &[String],
) -> Result<Spec> {
    let mut all: Vec<String> = results_dir
        .map(|r| format!("results_dir={}", r.display()))
        .into_iter()
        .collect();
    all.extend_from_slice(overrides);
    let mut spec = match path {
        Some(path) => Spec::load(path, &all)?,
        None => Spec::from_yaml_str("", "the command line", &all)?,
    };
    if let Some(line) = spec.resolve_gpu_keys(reid_modeling::GPU_BACKEND)? {
        println!("{line}");
    }
    Ok(spec)
}

impl Experiment {
    pub fn load(args: &CommonArgs) -> Result<Self> {
        let spec = load_spec(Some(&args.spec), Some(&args.results_dir), &args.overrides)?;
        let key = model_key(args.key.as_deref(), &spec)?;
        std::fs::create_dir_all(&args.results_dir)
            .with_context(|| format!("cannot create results dir {}", args.results_dir.display()))?;
        reid_engine::model::use_threads(spec.num_threads);
        Ok(Self {
            spec,
            results_dir: args.results_dir.clone(),
            key,
        })
    }

    /// The command's own results folder (`<section>.results_dir`, TAO's key), else
    /// `results_dir/name`; created.
    pub fn subdir(&self, name: &str, own: Option<&PathBuf>) -> Result<PathBuf> {
        let dir = own.cloned().unwrap_or_else(|| self.results_dir.join(name));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(dir)
    }

    /// Opens a model with the spec's settings and this experiment's key.
    pub fn open_model(&self, path: &Path) -> Result<OpenModel> {
        open_model(&self.spec, path, self.key.as_ref())
    }

    /// Reads a labelled set, logging its layout and size.
    pub fn read_set(&self, source: &DataSource, label: &str) -> Result<ImageSet> {
        let set = ImageSet::read(source)?;
        tracing::info!("{label} {}", set.describe());
        Ok(set)
    }

    /// Embeds `paths` with the spec's batch size, workers and flip setting.
    pub fn embed(
        &self,
        model: &mut OpenModel,
        paths: &[PathBuf],
        label: &str,
    ) -> Result<Extracted> {
        let opts = extract_options(&self.spec, label);
        Ok(embed_paths(model.model.as_mut(), &model.pre, paths, &opts)?)
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
