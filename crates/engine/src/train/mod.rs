//! Training (`reid train`): the BoT / TAO ReIdentificationNet recipe on a native Burn network.
//! Each epoch draws its batches (`data`), augments them on a loader thread, and takes one
//! optimiser step per batch (`optim`) at the epoch's learning rate (`schedule`) on the
//! configured losses; every `checkpoint_interval` epochs and at the end it writes a checkpoint
//! holding the weights and the whole training state (optimiser, center-loss centers), validates
//! on the query/test sets when the spec names them, and appends a line to `status.jsonl`
//! (`status`), then redraws `training_curves.png` from those lines. A run resumes (redrawing the
//! picture) from `train.resume` or from the newest checkpoint in its folder.

pub mod data;
pub mod optim;
pub mod schedule;
pub mod status;
mod validate;

use crate::error::EngineError;
use crate::evaluation::extract_options;
use crate::ranking::Ranking;
use burn::module::ParamGroup;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::Bytes;
use data::TrainSet;
use indicatif::{ProgressBar, ProgressStyle};
use reid_config::{OptimConfig, PretrainChoice, Spec};
use reid_data::{Augmenter, ImageSet};
use reid_evaluation::plots::training::plot_training;
use reid_modeling::native::backbone::Backbone;
use reid_modeling::native::checkpoint::{self, CheckpointHeader, Sections};
use reid_modeling::native::losses::{CenterLoss, LossConfig, reid_loss};
use reid_modeling::native::net::{NetConfig, ReidNet};
use reid_modeling::native::pretrained;
use reid_modeling::{ModelKey, NativeModel};
use schedule::Schedule;
use status::EpochStatus;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One JSON line per finished epoch.
pub const STATUS_FILE: &str = "status.jsonl";
/// The training-curves picture, redrawn from the status lines after every epoch and on resume.
pub const CURVES_FILE: &str = "training_curves.png";

/// Checkpoint sections of the training state.
const OPTIMIZER: &str = "optimizer";
const CENTERS: &str = "center_loss";
const CENTER_OPTIMIZER: &str = "center_optimizer";

/// Where a run's checkpoint of `epoch` (1-based) goes.
pub fn checkpoint_path(dir: &Path, epoch: u32) -> PathBuf {
    dir.join(format!(
        "model_epoch_{epoch:03}.{}",
        reid_modeling::CHECKPOINT_EXTENSION
    ))
}

/// The run's checkpoints, newest first.
pub fn checkpoints(dir: &Path) -> Vec<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let epoch = name
                .strip_prefix("model_epoch_")?
                .strip_suffix(&format!(".{}", reid_modeling::CHECKPOINT_EXTENSION))?
                .parse()
                .ok()?;
            Some((epoch, e.path()))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found
}

/// What a finished run reports.
#[derive(Debug)]
pub struct TrainOutcome {
    /// The epoch the run started from (0 for a fresh run).
    pub resumed_from: u32,
    pub last_checkpoint: Option<PathBuf>,
    /// The status of the last epoch trained in this call.
    pub last: Option<EpochStatus>,
}

/// A network with its losses and optimisers: what a training step needs and changes.
pub struct Learner {
    pub net: ReidNet,
    center: CenterLoss,
    optim: ModuleOptimizer,
    center_optim: ModuleOptimizer,
    losses: LossConfig,
    settings: OptimConfig,
    clip_grad_norm: f32,
    /// Epochs completed.
    pub epoch: u32,
}

/// Loss values of one step (0 for losses not trained).
#[derive(Debug, Default, Clone, Copy)]
pub struct StepLosses {
    pub total: f64,
    pub ce: f64,
    pub triplet: f64,
    pub center: f64,
}

impl Learner {
    /// A new network as `spec` describes on the autodiff device `ad`, initialised from
    /// `train.seed` (no pretrained weights), with fresh optimisers.
    pub fn new(spec: &Spec, cfg: &NetConfig, ad: &Device) -> Self {
        ad.seed(spec.train.seed);
        let net = ReidNet::new(cfg, ad);
        Self::with_net(spec, cfg, net, ad)
    }

    fn with_net(spec: &Spec, cfg: &NetConfig, net: ReidNet, ad: &Device) -> Self {
        Self {
            net: freeze_neck_bias(net),
            center: CenterLoss::new(cfg.num_classes, cfg.feat_dim, ad),
            optim: optim::build(&spec.train.optim),
            center_optim: center_optimizer(),
            losses: LossConfig::from_spec(spec),
            settings: spec.train.optim.clone(),
            clip_grad_norm: spec.train.clip_grad_norm,
            epoch: 0,
        }
    }

    /// One optimiser step on batch `x` with class labels `y` at base learning rate `lr`.
    /// A NaN or infinite loss is returned as `Err(value)` before anything is updated.
    pub fn step(
        mut self,
        x: Tensor<4>,
        y: Tensor<1, Int>,
        lr: f64,
    ) -> Result<(Self, StepLosses), f64> {
        let (features, logits) = self.net.forward_train(x);
        let parts = reid_loss(&self.losses, &self.center, features, logits, y);
        let value = |t: &Option<Tensor<1>>| {
            t.as_ref()
                .map_or(0.0, |t| f64::from(t.clone().into_scalar::<f32>()))
        };
        let losses = StepLosses {
            total: f64::from(parts.total.clone().into_scalar::<f32>()),
            ce: value(&parts.cross_entropy),
            triplet: value(&parts.triplet),
            center: value(&parts.center),
        };
        if !losses.total.is_finite() {
            return Err(losses.total);
        }
        let mut grads = parts.total.backward();
        let mut net_grads = GradientsParams::from_module(&mut grads, &self.net);
        if self.clip_grad_norm > 0.0 {
            optim::clip_grad_norm(&self.net, &mut net_grads, self.clip_grad_norm);
        }
        let rates = optim::learning_rates(&self.settings, lr);
        self.net = self.optim.step(rates, self.net, net_grads);
        if let Some(weight) = self.losses.center.filter(|w| *w > 0.0) {
            let center_grads = GradientsParams::from_module(&mut grads, &self.center);
            // BoT rescales the centers' gradient by 1 / weight before an SGD step at center_lr.
            let center_lr = f64::from(self.settings.center_lr / weight);
            self.center = self.center_optim.step(center_lr, self.center, center_grads);
        }
        Ok((self, losses))
    }
}

/// Trains as `spec` says, writing checkpoints (sealed with `key` when one is given) and
/// `status.jsonl` into `out_dir`, on `device`.
pub fn train(
    spec: &Spec,
    out_dir: &Path,
    device: &Device,
    key: Option<&ModelKey>,
) -> Result<TrainOutcome, EngineError> {
    let set = TrainSet::read(&spec.train_sets()?)?;
    let derived;
    let spec = if spec.dataset.num_classes == 0 {
        tracing::info!(
            "dataset.num_classes 0: {} identities in the training set(s)",
            set.num_classes
        );
        let mut s = spec.clone();
        s.dataset.num_classes = set.num_classes as u32;
        derived = s;
        &derived
    } else {
        spec
    };
    let ds = &spec.dataset;
    if set.num_classes != ds.num_classes as usize {
        return Err(EngineError::Config(format!(
            "dataset.num_classes is {} but the training set{} {} hold{} {} person ids; set \
             dataset.num_classes={} (or 0 to take it from the data)",
            ds.num_classes,
            if set.sources > 1 { "s" } else { "" },
            set.describe_sources(),
            if set.sources > 1 { "" } else { "s" },
            set.num_classes,
            set.num_classes
        )));
    }
    let net_config = NetConfig::from_spec(spec)?;
    let losses = LossConfig::from_spec(spec);
    let schedule = Schedule::from_config(&spec.train);
    let augmenter = Augmenter::from_spec(spec);
    let validation = match spec.validation_sets() {
        Some(sets) => {
            let q = ImageSet::read(&sets.query)?;
            let g = ImageSet::read(&sets.gallery)?;
            tracing::info!("validation query {}", q.describe());
            tracing::info!("validation test {}", g.describe());
            Some((q, g))
        }
        None => None,
    };
    std::fs::create_dir_all(out_dir).map_err(|source| EngineError::Io {
        path: out_dir.to_owned(),
        source,
    })?;
    let ad = device.clone().autodiff();
    let mut state = start(spec, &net_config, out_dir, &ad, key, &set, &augmenter)?;
    let resumed_from = state.epoch;
    let status_file = out_dir.join(STATUS_FILE);
    status::keep_until(&status_file, state.epoch)?;
    let mut outcome = TrainOutcome {
        resumed_from,
        last_checkpoint: checkpoints(out_dir).first().map(|(_, p)| p.clone()),
        last: None,
    };
    if resumed_from > 0 {
        draw_curves(spec, out_dir)?;
    }
    let t = &spec.train;
    while state.epoch < t.num_epochs {
        let epoch = state.epoch; // 0-based index of the epoch being trained
        let lr = schedule.lr(epoch, 1.0);
        let batches = set.batches(ds.sampler, ds.batch_size, ds.num_instances, t.seed, epoch);
        if batches.is_empty() {
            return Err(EngineError::Config(format!(
                "dataset.batch_size {} (with dataset.num_instances {}) makes no batch from {} images of {} ids",
                ds.batch_size,
                ds.num_instances,
                set.paths.len(),
                set.num_classes
            )));
        }
        let started = Instant::now();
        let sums;
        (state, sums) = run_epoch(state, &set, &augmenter, &batches, lr, t.seed, &ad)?;
        let seconds = started.elapsed().as_secs_f64();
        state.epoch += 1;
        let done = state.epoch;
        let every = |n: u32| done % n.max(1) == 0 || done == t.num_epochs;
        let due = every(t.checkpoint_interval);
        let validate_now = every(t.validation_interval.unwrap_or(t.checkpoint_interval));
        let mut line = EpochStatus {
            epoch: done,
            loss: sums.mean(sums.total),
            loss_ce: losses.cross_entropy.map(|_| sums.mean(sums.ce)),
            loss_triplet: losses.triplet.map(|_| sums.mean(sums.triplet)),
            loss_center: losses.center.map(|_| sums.mean(sums.center)),
            lr,
            img_per_s: sums.images as f64 / seconds,
            seconds,
            peak_rss_bytes: crate::bench::peak_rss_bytes(),
            rank1: None,
            map: None,
            rank1_re_ranked: None,
            map_re_ranked: None,
            checkpoint: None,
        };
        if validate_now && let Some(sets) = &validation {
            let mut model = NativeModel::from_net(
                PathBuf::from(format!("epoch {done}")),
                state.net.valid(),
                net_config.clone(),
                device.clone(),
            );
            let opts = extract_options(spec, "");
            let mut rankings = vec![Ranking::plain(spec)];
            if spec.re_ranking.re_ranking {
                rankings.push(Ranking::of_spec(spec));
            }
            let scores = validate::rank1_map(
                &mut model,
                &net_config.preprocessor(),
                sets,
                &opts,
                &rankings,
            )?;
            (line.rank1, line.map) = (Some(scores[0].0), Some(scores[0].1));
            if let Some(&(r1, map)) = scores.get(1) {
                (line.rank1_re_ranked, line.map_re_ranked) = (Some(r1), Some(map));
            }
        }
        if due {
            line.checkpoint = Some(checkpoint_path(out_dir, done));
        }
        tracing::info!(
            "epoch {done}/{}: loss {:.4}, lr {lr:.3e}, {:.1} img/s{}{}",
            t.num_epochs,
            line.loss,
            line.img_per_s,
            line.metrics_text(),
            line.checkpoint
                .as_ref()
                .map(|p| format!(", checkpoint {}", p.display()))
                .unwrap_or_default()
        );
        // The line goes first: a kill between the two leaves a line that resuming from the
        // previous checkpoint drops, never a checkpoint whose epoch has no line.
        status::append(&status_file, &line)?;
        if let Some(path) = &line.checkpoint {
            save(path, &state, &net_config, key)?;
            outcome.last_checkpoint = Some(path.clone());
        }
        draw_curves(spec, out_dir)?;
        outcome.last = Some(line);
    }
    Ok(outcome)
}

/// Redraws `training_curves.png` in `out_dir` from its `status.jsonl`. A picture that cannot be
/// drawn is reported but does not stop the run.
fn draw_curves(spec: &Spec, out_dir: &Path) -> Result<(), EngineError> {
    let m = &spec.model;
    let title = format!("{} {}×{}", m.backbone, m.input_height, m.input_width);
    let curves = status::curves(&status::read(&out_dir.join(STATUS_FILE))?);
    if let Err(e) = plot_training(&curves, &title, &out_dir.join(CURVES_FILE)) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// Loss sums over an epoch's batches.
#[derive(Default)]
struct Sums {
    batches: usize,
    images: usize,
    total: f64,
    ce: f64,
    triplet: f64,
    center: f64,
}

impl Sums {
    fn mean(&self, sum: f64) -> f64 {
        sum / self.batches.max(1) as f64
    }
}

/// One pass over `batches`.
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    mut state: Learner,
    set: &TrainSet,
    augmenter: &Augmenter,
    batches: &[Vec<usize>],
    lr: f64,
    seed: u64,
    ad: &Device,
) -> Result<(Learner, Sums), EngineError> {
    let pre = &augmenter.pre;
    let (h, w) = (pre.height as usize, pre.width as usize);
    let epoch = state.epoch;
    let bar = progress_bar(
        batches.iter().map(Vec::len).sum::<usize>() as u64,
        epoch + 1,
    );
    let mut sums = Sums::default();
    let seed = data::mix(seed, u64::from(epoch));
    state = std::thread::scope(|scope| -> Result<Learner, EngineError> {
        let loader = data::spawn_loader(scope, set, augmenter, batches, seed);
        for (step, batch) in loader.iter().enumerate() {
            for skipped in &batch.failed {
                tracing::warn!(
                    "train: skipped {}: {}",
                    skipped.path.display(),
                    skipped.reason
                );
            }
            let n = batch.labels.len();
            bar.inc((n + batch.failed.len()) as u64);
            if n < 2 {
                continue;
            }
            let x = Tensor::<4>::from_data(TensorData::new(batch.tensor, [n, 3, h, w]), ad);
            let y = Tensor::<1, Int>::from_data(TensorData::new(batch.labels, [n]), ad);
            let losses;
            (state, losses) = state
                .step(x, y, lr)
                .map_err(|value| EngineError::NonFiniteLoss {
                    epoch: epoch + 1,
                    step: step + 1,
                    value,
                })?;
            sums.batches += 1;
            sums.images += n;
            sums.total += losses.total;
            sums.ce += losses.ce;
            sums.triplet += losses.triplet;
            sums.center += losses.center;
            bar.set_message(format!("loss {:.3} lr {lr:.2e}", sums.mean(sums.total)));
        }
        Ok(state)
    })?;
    bar.finish_and_clear();
    if sums.batches == 0 {
        return Err(EngineError::NoImages {
            label: "train".into(),
            detail: String::new(),
        });
    }
    Ok((state, sums))
}

/// The state to start from: `train.resume`, else the newest checkpoint in `out_dir`, else a new
/// network (with `model.pretrain_choice` weights; folded ones calibrated on training images).
fn start(
    spec: &Spec,
    cfg: &NetConfig,
    out_dir: &Path,
    ad: &Device,
    key: Option<&ModelKey>,
    set: &TrainSet,
    augmenter: &Augmenter,
) -> Result<Learner, EngineError> {
    let explicit = spec.train.resume.clone();
    let found = checkpoints(out_dir);
    if let Some(path) = explicit.as_ref().or(found.first().map(|(_, p)| p)) {
        tracing::info!("resuming from {}", path.display());
        return resume(spec, cfg, path, ad, key);
    }
    let mut learner = Learner::new(spec, cfg, ad);
    let m = &spec.model;
    match (m.pretrain_choice, &m.pretrained_model_path) {
        (PretrainChoice::ImageNet, Some(path)) => {
            let report = pretrained::load_backbone(&mut learner.net, path)?;
            tracing::info!(
                "pretrained weights from {}: {} tensors loaded, {} missing, {} unused{}",
                path.display(),
                report.applied,
                report.missing.len(),
                report.unused.len(),
                report
                    .missing
                    .first()
                    .map(|k| format!(" (missing e.g. {k})"))
                    .unwrap_or_default()
            );
            if report.needs_calibration {
                learner.net = calibrate(learner.net, spec, set, augmenter, ad)?;
            }
        }
        (PretrainChoice::ImageNet, None) => {
            return Err(EngineError::Config(
                "model.pretrain_choice is imagenet: give model.pretrained_model_path (.pth/.pt/.safetensors)".into(),
            ));
        }
        (PretrainChoice::SelfTrained, Some(path)) => {
            let (header, loaded, _) = checkpoint::load(path, ad, key)?;
            same_network(cfg, &header.net, path)?;
            learner.net = freeze_neck_bias(loaded);
            tracing::info!("weights from {}", path.display());
        }
        _ => {}
    }
    Ok(learner)
}

/// Images whose statistics the BatchNorms of folded pretrained weights take: the first batches
/// of the first epoch, augmented as in training.
const CALIBRATION_IMAGES: usize = 256;

/// `net` with the BatchNorm statistics of its (OSNet) backbone calibrated on training images
/// (`OsNet::calibrate`: same function, statistics of this data).
fn calibrate(
    net: ReidNet,
    spec: &Spec,
    set: &TrainSet,
    augmenter: &Augmenter,
    ad: &Device,
) -> Result<ReidNet, EngineError> {
    let ds = &spec.dataset;
    let batches = set.batches(
        ds.sampler,
        ds.batch_size,
        ds.num_instances,
        spec.train.seed,
        0,
    );
    let paths: Vec<PathBuf> = batches
        .iter()
        .flatten()
        .take(CALIBRATION_IMAGES)
        .map(|&i| set.paths[i].clone())
        .collect();
    let seeds: Vec<u64> = (0..paths.len() as u64)
        .map(|i| data::mix(spec.train.seed, i))
        .collect();
    let batch = augmenter.load_batch(&paths, &seeds);
    let n = batch.ok.len();
    if n < 2 {
        return Err(EngineError::Config(format!(
            "{} of {} training images could be read: too few to calibrate the pretrained BatchNorms",
            n,
            paths.len()
        )));
    }
    let mut plain = net.valid();
    let pre = &augmenter.pre;
    let shape = [n, 3, pre.height as usize, pre.width as usize];
    let x = Tensor::<4>::from_data(TensorData::new(batch.tensor, shape), &ad.clone().inner());
    if let Backbone::OsNet(m) = &mut plain.backbone {
        m.calibrate(x);
    }
    tracing::info!("BatchNorm statistics calibrated on {n} training images");
    Ok(freeze_neck_bias(plain.train()))
}

/// The BoT BNNeck keeps its shift at zero.
fn freeze_neck_bias(net: ReidNet) -> ReidNet {
    net.set_require_grad_group(ParamGroup::from_path("head.bnneck.beta"), false)
}

fn center_optimizer() -> ModuleOptimizer {
    burn::optim::SgdConfig::new().init()
}

fn same_network(cfg: &NetConfig, found: &NetConfig, path: &Path) -> Result<(), EngineError> {
    if cfg != found {
        return Err(EngineError::Config(format!(
            "{} holds a different network than the spec describes (model.* / dataset.* keys changed?): checkpoint {found:?}, spec {cfg:?}",
            path.display()
        )));
    }
    Ok(())
}

fn resume(
    spec: &Spec,
    cfg: &NetConfig,
    path: &Path,
    ad: &Device,
    key: Option<&ModelKey>,
) -> Result<Learner, EngineError> {
    let (header, net, sections) = checkpoint::load(path, ad, key)?;
    same_network(cfg, &header.net, path)?;
    let bad = |message: String| {
        EngineError::Model(reid_modeling::ModelError::Checkpoint {
            path: path.to_owned(),
            message,
        })
    };
    let section = |name: &str| {
        sections
            .get(name)
            .ok_or_else(|| bad(format!("holds no training state (`{name}`); it can seed a run as model.pretrain_choice=self but not resume one")))
    };
    let load_optim = |optim: ModuleOptimizer, name: &str| {
        optim
            .from_bytes(Bytes::from_bytes_vec(section(name)?.clone()))
            .map_err(|e| bad(format!("{name}: {e:?}")))
    };
    let center = checkpoint::module_from_bytes(
        CenterLoss::new(cfg.num_classes, cfg.feat_dim, ad),
        section(CENTERS)?,
    )
    .map_err(|e| bad(format!("{CENTERS}: {e}")))?;
    let fresh = Learner::with_net(spec, cfg, net, ad);
    Ok(Learner {
        center,
        optim: load_optim(fresh.optim, OPTIMIZER)?,
        center_optim: load_optim(fresh.center_optim, CENTER_OPTIMIZER)?,
        epoch: header.epoch,
        ..fresh
    })
}

/// Writes the weights and the training state, atomically (sealed with `key`).
fn save(
    path: &Path,
    state: &Learner,
    cfg: &NetConfig,
    key: Option<&ModelKey>,
) -> Result<(), EngineError> {
    let bad = |message: String| {
        EngineError::Model(reid_modeling::ModelError::Checkpoint {
            path: path.to_owned(),
            message,
        })
    };
    let optim_bytes = |o: &ModuleOptimizer| {
        o.into_bytes()
            .map(|b| b.to_vec())
            .map_err(|e| bad(format!("{e:?}")))
    };
    // BatchNorm running statistics are synchronised lazily: `valid()` makes them current.
    let net = state.net.valid();
    let sections = Sections::from([
        (OPTIMIZER.to_owned(), optim_bytes(&state.optim)?),
        (
            CENTERS.to_owned(),
            checkpoint::module_to_bytes(&state.center).map_err(bad)?,
        ),
        (
            CENTER_OPTIMIZER.to_owned(),
            optim_bytes(&state.center_optim)?,
        ),
    ]);
    let header = CheckpointHeader {
        net: cfg.clone(),
        epoch: state.epoch,
    };
    checkpoint::save(path, &header, &net, &sections, key)?;
    Ok(())
}

fn progress_bar(len: u64, epoch: u32) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix:>3} [{bar:30}] {pos}/{len} {per_sec:.1} ETA {eta} {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix(epoch.to_string());
    bar
}
