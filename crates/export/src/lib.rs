//! reid's deployment stage: native checkpoints to ONNX (`reid export`). The graph is written
//! from the module structure (`lower`, `graph`, `proto`; BatchNorm folded into convolutions),
//! input `input` NCHW float and output `fc_pred` (TAO's names), dynamic batch by default, with
//! the pre-processing and head settings in the model's metadata; the files TAO's deployment
//! paths (Triton, DeepStream) take beside it come from [`deploy`]. Every export proves itself: the
//! ONNX model runs in ONNX Runtime beside the Burn network on the same batch, and an fp32 export
//! whose features differ by more than 1e-4 (fp16: cosine below 0.999, INT8: below 0.95) fails
//! and is removed. INT8 exports are calibrated first ([`calibrate`]) on the fp32 graph.

pub mod calibrate;
pub mod deploy;
mod graph;
mod lower;
use reid_modeling::onnx_proto as proto;

pub use calibrate::CalibrationMethod;
pub use graph::{OPSET, WeightType};

use calibrate::{Calibrator, Range};
use graph::{GraphBuilder, Precision};
use proto::ModelProto;
use reid_data::Preprocessor;
use reid_modeling::native::checkpoint;
use reid_modeling::native::net::{NetConfig, ReidNet};
use reid_modeling::sealed::{self, ModelKey};
use reid_modeling::{Embedder, ModelError, NativeModel, OnnxModel};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Largest fp32 feature difference allowed between ONNX Runtime and Burn.
pub const FP32_TOLERANCE: f32 = 1e-4;
/// Smallest per-image cosine allowed between fp16 and fp32 features.
pub const FP16_MIN_COSINE: f32 = 0.999;
/// Smallest per-image cosine allowed between INT8 and fp32 features.
pub const INT8_MIN_COSINE: f32 = 0.95;
/// Images the self-check runs.
const CHECK_IMAGES: usize = 8;
/// The output tensor's name, as in TAO's exported ReIdentificationNet (its input is `input`).
pub const OUTPUT_NAME: &str = "fc_pred";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Data(#[from] reid_data::DataError),
    #[error("cannot build the ONNX graph: {0}")]
    Graph(String),
    #[error("INT8 calibration: {0}")]
    Calibration(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the exported model {} does not compute what the checkpoint computes: {detail}; the file was removed",
        path.display()
    )]
    Mismatch { path: PathBuf, detail: String },
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub weights: WeightType,
    /// Fixed batch size, or None for a dynamic batch.
    pub batch: Option<usize>,
    /// Images for the self-check (the first few are used); synthetic inputs when empty.
    pub check_images: Vec<PathBuf>,
    /// ONNX Runtime threads for calibration and the self-check (0 = all cores).
    pub threads: usize,
    /// How INT8 exports are calibrated.
    pub calibration: Option<CalibrationOptions>,
    /// The user's key: opens a sealed checkpoint.
    pub key: Option<ModelKey>,
    /// Seal the ONNX file with `key` too (`export.encrypt`); else it is a plain ONNX file that
    /// ONNX Runtime, TensorRT, Triton and DeepStream open.
    pub seal: bool,
}

impl ExportOptions {
    /// The key the ONNX file is sealed with, if any.
    fn seal_key(&self) -> Option<&ModelKey> {
        self.key.as_ref().filter(|_| self.seal)
    }
}

/// INT8 calibration set and method.
#[derive(Debug, Clone)]
pub struct CalibrationOptions {
    pub images: Vec<PathBuf>,
    pub batch_size: usize,
    pub method: CalibrationMethod,
}

/// How an INT8 export was calibrated.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationReport {
    pub method: CalibrationMethod,
    pub images: usize,
    pub activations: usize,
    pub seconds: f64,
    /// Convolutions hostile to quantisation (see `HOSTILE_RATIO`).
    pub hostile_convolutions: usize,
    /// Activations at the network's start kept in float (up to the last hostile convolution).
    pub float_activations: usize,
}

/// What an export wrote and how closely it matches the checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub onnx_file: PathBuf,
    pub bytes: u64,
    pub opset: i64,
    pub dynamic_batch: bool,
    pub feat_dim: usize,
    /// Images compared (real ones, or synthetic when none were given).
    pub checked_images: usize,
    pub synthetic_check: bool,
    /// Largest |ONNX Runtime − Burn| over all features.
    pub max_abs_diff: f32,
    /// Smallest per-image cosine between the two.
    pub min_cosine: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CalibrationReport>,
}

/// Exports the checkpoint at `checkpoint` to `out` and checks it against Burn.
pub fn export(
    checkpoint: &Path,
    out: &Path,
    opts: &ExportOptions,
) -> Result<ExportReport, ExportError> {
    let device = burn::prelude::Device::flex();
    let key = opts.key.as_ref();
    let (header, net, _) = checkpoint::load(checkpoint, &device, key)?;
    let cfg = header.net;
    let (model, calibration) = match opts.weights {
        WeightType::Int8 => {
            let (ranges, mut report) = calibrate(&net, &cfg, out, opts)?;
            let meta = metadata(&cfg, opts.weights);
            let precision = |float_points| Precision::Int8 {
                ranges: ranges.clone(),
                float_points,
            };
            let mut built = build(&net, &cfg, precision(0), opts.batch, meta.clone())?;
            report.hostile_convolutions = built.hostile;
            if built.float_points_needed > 0 {
                report.float_activations = built.float_points_needed;
                built = build(
                    &net,
                    &cfg,
                    precision(built.float_points_needed),
                    opts.batch,
                    meta,
                )?;
            }
            (built.model, Some(report))
        }
        w => {
            let built = build(
                &net,
                &cfg,
                Precision::Float(w),
                opts.batch,
                metadata(&cfg, w),
            )?;
            (built.model, None)
        }
    };
    let bytes = model.to_bytes();
    sealed::write(out, &bytes, opts.seal_key()).map_err(|source| ExportError::Io {
        path: out.to_owned(),
        source,
    })?;
    let native = NativeModel::from_net(checkpoint.to_owned(), net, cfg.clone(), device);
    let report = check(native, out, &cfg, opts, bytes.len() as u64).map(|mut r| {
        r.calibration = calibration;
        r
    });
    if let Err(ExportError::Mismatch { .. }) = &report {
        let _ = std::fs::remove_file(out);
    }
    report
}

/// A built graph.
struct Built {
    model: ModelProto,
    /// Its quantisation points, in order.
    points: Vec<String>,
    /// INT8: convolutions hostile to quantisation, and how many leading points must stay float.
    hostile: usize,
    float_points_needed: usize,
}

/// The ONNX model of `net` at `precision`.
fn build(
    net: &ReidNet,
    cfg: &NetConfig,
    precision: Precision,
    batch: Option<usize>,
    metadata: Vec<(String, String)>,
) -> Result<Built, ExportError> {
    let mut g = GraphBuilder::new(precision);
    let hw = (cfg.input_height as usize, cfg.input_width as usize);
    let embedding = lower::embedding(&mut g, net, cfg.neck_feat, "input", hw)?;
    let points = g.points().to_vec();
    let (hostile, float_points_needed) = (g.hostile(), g.float_points_needed());
    let model = g.finish(
        "input",
        (cfg.input_height, cfg.input_width),
        &embedding,
        OUTPUT_NAME,
        cfg.feat_dim,
        batch,
        metadata,
    );
    Ok(Built {
        model,
        points,
        hostile,
        float_points_needed,
    })
}

/// Runs the fp32 graph with its quantisation points as outputs on the calibration images and
/// returns every point's range.
fn calibrate(
    net: &ReidNet,
    cfg: &NetConfig,
    out: &Path,
    opts: &ExportOptions,
) -> Result<(Vec<Range>, CalibrationReport), ExportError> {
    let started = std::time::Instant::now();
    let cal = opts.calibration.as_ref().ok_or_else(|| {
        ExportError::Calibration("no calibration images (export.cal_image_dir)".into())
    })?;
    let Built { model, points, .. } = build(net, cfg, Precision::Calibration, None, Vec::new())?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut tmp = sealed::shared_tempfile(dir).map_err(|source| ExportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    tmp.write_all(&model.to_bytes())
        .map_err(|source| ExportError::Io {
            path: tmp.path().to_owned(),
            source,
        })?;
    let mut onnx = OnnxModel::open(tmp.path(), opts.threads, None)?;
    let pre = cfg.preprocessor();
    let mut calibrator = Calibrator::new(cal.method, points.len());
    let passes = if calibrator.needs_histograms() { 2 } else { 1 };
    let mut images = 0;
    for pass in 0..passes {
        images = 0;
        for chunk in cal.images.chunks(cal.batch_size.max(1)) {
            let batch = pre.load_batch(chunk);
            if batch.ok.is_empty() {
                continue;
            }
            images += batch.ok.len();
            let acts = onnx.outputs(
                &batch.tensor,
                batch.ok.len(),
                (pre.height, pre.width),
                &points,
            )?;
            for (point, values) in acts.iter().enumerate() {
                if pass == 0 {
                    calibrator.observe_range(point, values);
                } else {
                    calibrator.observe_histogram(point, values);
                }
            }
        }
        tracing::info!(
            "INT8 calibration pass {}/{passes}: {images} images, {} activations",
            pass + 1,
            points.len()
        );
    }
    if images == 0 {
        return Err(ExportError::Calibration(format!(
            "none of the {} calibration images could be read",
            cal.images.len()
        )));
    }
    let report = CalibrationReport {
        method: cal.method,
        images,
        activations: points.len(),
        seconds: started.elapsed().as_secs_f64(),
        hostile_convolutions: 0,
        float_activations: 0,
    };
    Ok((calibrator.ranges(), report))
}

fn metadata(cfg: &NetConfig, weights: WeightType) -> Vec<(String, String)> {
    let mut m = cfg.preprocessor().to_metadata();
    let neck_feat = match cfg.neck_feat {
        reid_config::NeckFeat::Before => "before",
        reid_config::NeckFeat::After => "after",
    };
    m.extend(
        [
            ("backbone", cfg.backbone.to_string()),
            ("feat_dim", cfg.feat_dim.to_string()),
            ("neck_feat", neck_feat.to_owned()),
            ("weights", format!("{weights:?}").to_lowercase()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    m
}

/// A batch for the self-check: real images when given, else a deterministic pattern.
fn check_batch(pre: &Preprocessor, images: &[PathBuf]) -> (Vec<f32>, usize, bool) {
    let paths: Vec<PathBuf> = images.iter().take(CHECK_IMAGES).cloned().collect();
    let batch = pre.load_batch(&paths);
    if !batch.ok.is_empty() {
        return (batch.tensor, batch.ok.len(), false);
    }
    let n = 3;
    let tensor = (0..n * pre.image_len())
        .map(|i| ((i as f32) * 0.37).sin() * 2.0)
        .collect();
    (tensor, n, true)
}

fn check(
    mut native: NativeModel,
    out: &Path,
    cfg: &NetConfig,
    opts: &ExportOptions,
    bytes: u64,
) -> Result<ExportReport, ExportError> {
    let dim = cfg.feat_dim;
    let pre = cfg.preprocessor();
    let (tensor, n, synthetic) = check_batch(&pre, &opts.check_images);
    let (h, w) = (pre.height, pre.width);
    let reference = native.embed(&tensor, n, h, w)?;
    let mut onnx = OnnxModel::open(out, opts.threads, opts.seal_key())?;
    let got = onnx.embed(&tensor, n, h, w)?;
    let mismatch = |detail: String| ExportError::Mismatch {
        path: out.to_owned(),
        detail,
    };
    if got.dim != reference.dim || got.len() != reference.len() {
        return Err(mismatch(format!(
            "{} × {}-d features instead of {} × {}-d",
            got.len(),
            got.dim,
            reference.len(),
            reference.dim
        )));
    }
    let max_abs_diff = got
        .data
        .iter()
        .zip(&reference.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let min_cosine = got
        .data
        .chunks_exact(dim)
        .zip(reference.data.chunks_exact(dim))
        .map(|(a, b)| {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            dot / (na * nb).max(f32::MIN_POSITIVE)
        })
        .fold(1.0f32, f32::min);
    if !max_abs_diff.is_finite() || !min_cosine.is_finite() {
        return Err(mismatch("non-finite features".into()));
    }
    match opts.weights {
        WeightType::Fp32 if max_abs_diff > FP32_TOLERANCE => {
            return Err(mismatch(format!(
                "max |ONNX Runtime − Burn| = {max_abs_diff:.3e} > {FP32_TOLERANCE:e}"
            )));
        }
        WeightType::Fp16 if min_cosine < FP16_MIN_COSINE => {
            return Err(mismatch(format!(
                "fp16 cosine {min_cosine:.5} < {FP16_MIN_COSINE}"
            )));
        }
        WeightType::Int8 if min_cosine < INT8_MIN_COSINE => {
            return Err(mismatch(format!(
                "INT8 cosine {min_cosine:.5} < {INT8_MIN_COSINE}"
            )));
        }
        _ => {}
    }
    Ok(ExportReport {
        onnx_file: out.to_owned(),
        bytes,
        opset: OPSET,
        dynamic_batch: opts.batch.is_none(),
        feat_dim: dim,
        checked_images: n,
        synthetic_check: synthetic,
        max_abs_diff,
        min_cosine,
        calibration: None,
    })
}
