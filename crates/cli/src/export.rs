//! `reid export`: a native checkpoint (`export.checkpoint`) to ONNX (`export.onnx_file`, by
//! default `RESULTS_DIR/export/<checkpoint name>.onnx`) with `export.data_type` fp32, fp16 or
//! int8 and `export.batch_size` (−1: dynamic), checked against the checkpoint in ONNX Runtime on
//! images from `export.cal_image_dir` (else the query/test set). INT8 is calibrated on
//! `export.cal_batches × export.cal_batch_size` images spread over `export.cal_image_dir` (else
//! the first training set) by `export.cal_method`, and, when evaluation sets are configured,
//! both models go through the evaluation pipeline on them. The figures go to
//! `RESULTS_DIR/export/export_report.json`.

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Context, Result, bail};
use reid_config::ExportDataType;
use reid_data::dataset::image_paths;
use reid_engine::evaluation::{embed_set, evaluate, extract_options};
use reid_engine::ranking::Ranking;
use reid_engine::tao_status::TaoStatus;
use reid_evaluation::metrics::Metrics;
use reid_export::{CalibrationOptions, ExportOptions, WeightType, deploy};
use serde_json::json;
use std::path::{Path, PathBuf};

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let out_dir = exp.subdir("export", exp.spec.export.results_dir.as_ref())?;
    let status = TaoStatus::start(&out_dir, "export")?;
    status.finish(run_in(&exp, &out_dir))
}

fn run_in(exp: &Experiment, out_dir: &Path) -> Result<()> {
    let ex = &exp.spec.export;
    let checkpoint = required(&[ex.checkpoint.as_ref()], "export.checkpoint")?;
    let weights = match ex.data_type {
        ExportDataType::Fp32 => WeightType::Fp32,
        ExportDataType::Fp16 => WeightType::Fp16,
        ExportDataType::Int8 => WeightType::Int8,
    };
    let batch = match ex.batch_size {
        -1 => None,
        b if b > 0 => Some(b as usize),
        b => bail!("export.batch_size must be -1 (dynamic) or positive, not {b}"),
    };
    let onnx_file = match &ex.onnx_file {
        Some(f) => f.clone(),
        None => {
            let stem = checkpoint
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into());
            out_dir.join(format!("{stem}.onnx"))
        }
    };
    let check_images = match exp.spec.export_check_set() {
        Some(source) => image_paths(&source)?,
        None => Vec::new(),
    };
    let calibration = match weights {
        WeightType::Int8 => Some(calibration(exp)?),
        _ => None,
    };
    let opts = ExportOptions {
        weights,
        batch,
        check_images,
        threads: exp.spec.num_threads,
        calibration,
        key: exp.key.clone(),
        seal: ex.encrypt,
    };
    if onnx_file.exists() && !ex.overwrite {
        bail!(
            "{} already exists; set export.overwrite=true to replace it, or choose another \
             export.onnx_file",
            onnx_file.display()
        );
    }
    match (&exp.key, ex.encrypt) {
        (None, true) => bail!("export.encrypt needs a model key: give -k KEY or encryption_key"),
        (Some(_), false) => println!(
            "reid export: writing a plain ONNX file (-k seals checkpoints; export.encrypt=true \
             seals the ONNX file too)"
        ),
        _ => {}
    }
    let report = reid_export::export(&checkpoint, &onnx_file, &opts)?;
    println!(
        "reid export: {} ({:?}, opset {}, {} batch, {}-d, {:.1} MB)",
        report.onnx_file.display(),
        weights,
        report.opset,
        if report.dynamic_batch {
            "dynamic"
        } else {
            "fixed"
        },
        report.feat_dim,
        report.bytes as f64 / 1e6
    );
    println!(
        "  check on {} {}images: max |ONNX Runtime − Burn| {:.2e}, min cosine {:.6}",
        report.checked_images,
        if report.synthetic_check {
            "synthetic "
        } else {
            ""
        },
        report.max_abs_diff,
        report.min_cosine
    );
    if let Some(cal) = &report.calibration {
        println!(
            "  INT8: {} activations calibrated ({:?}, {} images); {} convolution(s) hostile to \
             quantisation, {} activation(s) at the start kept in float",
            cal.activations,
            cal.method,
            cal.images,
            cal.hostile_convolutions,
            cal.float_activations
        );
    }
    let mut report_json = serde_json::to_value(&report)?;
    if let (WeightType::Int8, Some(sets)) = (weights, exp.spec.evaluation_sets()) {
        println!(
            "evaluating the checkpoint and the INT8 model on {}",
            sets.query.path.display()
        );
        let query = exp.read_set(&sets.query, "query")?;
        let gallery = exp.read_set(&sets.gallery, "test")?;
        let score = |model: &Path| -> Result<Metrics> {
            let mut model = exp.open_model(model)?;
            let mut embed = |set, label| {
                embed_set(
                    model.model.as_mut(),
                    &model.pre,
                    set,
                    &extract_options(&exp.spec, label),
                )
            };
            let (q, g) = (embed(&query, "query")?, embed(&gallery, "test")?);
            Ok(evaluate(&q, &g, &Ranking::of_spec(&exp.spec), 10)?.metrics)
        };
        let (before, after) = (score(&checkpoint)?, score(&onnx_file)?);
        println!(
            "  mAP {:.2}% → {:.2}% ({:+.2} points), rank-1 {:.2}% → {:.2}%",
            100.0 * before.map,
            100.0 * after.map,
            100.0 * (after.map - before.map),
            100.0 * before.rank(1),
            100.0 * after.rank(1)
        );
        report_json["evaluation"] = json!({
            "query": sets.query.path, "test": sets.gallery.path,
            "checkpoint": {"mAP": before.map, "rank1": before.rank(1)},
            "int8": {"mAP": after.map, "rank1": after.rank(1)},
            "mAP_change": after.map - before.map,
        });
    }
    if ex.triton || ex.deepstream {
        deployment_files(exp, &onnx_file, out_dir, weights, batch, &mut report_json)?;
    }
    let report_file = out_dir.join("export_report.json");
    std::fs::write(&report_file, serde_json::to_string_pretty(&report_json)?)
        .with_context(|| format!("cannot write {}", report_file.display()))?;
    println!("report: {}", report_file.display());
    Ok(())
}

/// The Triton repository entry and the DeepStream ReID section the spec asks for, from the
/// exported model's own pre-processing; their paths go into the report.
fn deployment_files(
    exp: &Experiment,
    onnx_file: &Path,
    out_dir: &Path,
    weights: WeightType,
    batch: Option<usize>,
    report: &mut serde_json::Value,
) -> Result<()> {
    let ex = &exp.spec.export;
    let model = exp.open_model(onnx_file)?;
    let dim = report["feat_dim"].as_u64().unwrap_or_default() as usize;
    let write = |path: &Path, text: &str| -> Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    if ex.triton {
        let name = onnx_file
            .file_stem()
            .map_or("reid".into(), |s| s.to_string_lossy().into_owned());
        let entry = out_dir.join("triton").join(&name);
        write(
            &entry.join("config.pbtxt"),
            &deploy::triton_config(&name, &model.pre, dim, batch),
        )?;
        std::fs::create_dir_all(entry.join("1"))?;
        std::fs::copy(onnx_file, entry.join("1/model.onnx")).with_context(|| {
            format!(
                "cannot copy {} into {}",
                onnx_file.display(),
                entry.display()
            )
        })?;
        println!("Triton model repository entry: {}", entry.display());
        report["triton"] = json!(entry);
    }
    if ex.deepstream {
        let (text, warning) = deploy::deepstream_reid(onnx_file, &model.pre, dim, weights, batch);
        if let Some(w) = warning {
            println!("  DeepStream: {w}");
        }
        let file = out_dir.join("deepstream_reid.yml");
        write(&file, &text)?;
        println!("DeepStream NvDCF ReID section: {}", file.display());
        report["deepstream"] = json!(file);
    }
    Ok(())
}

/// The INT8 calibration set: `cal_batches × cal_batch_size` images spread evenly over the
/// sorted images of `export.cal_image_dir` (else the first training set).
fn calibration(exp: &Experiment) -> Result<CalibrationOptions> {
    let ex = &exp.spec.export;
    let source = exp.spec.calibration_set()?;
    let files = image_paths(&source)?;
    let wanted = (ex.cal_batches * ex.cal_batch_size).max(1);
    let images: Vec<PathBuf> = if files.len() <= wanted {
        files
    } else {
        (0..wanted)
            .map(|i| files[i * files.len() / wanted].clone())
            .collect()
    };
    Ok(CalibrationOptions {
        images,
        batch_size: ex.cal_batch_size.max(1),
        method: ex.cal_method,
    })
}
