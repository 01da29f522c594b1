//! `reid export`: a native checkpoint (`export.checkpoint`) to ONNX (`export.onnx_file`, by
//! default `RESULTS_DIR/export/<checkpoint name>.onnx`) with `export.data_type` fp32, fp16 or
//! int8 and `export.batch_size` (−1: dynamic), checked against the checkpoint in ONNX Runtime on
//! images from `export.cal_image_dir` (else the query/test folder). INT8 is calibrated on
//! `export.cal_batches × export.cal_batch_size` images spread over `export.cal_image_dir` (else
//! the training folder) by `export.cal_method`, and, when an evaluation set is configured, both
//! models are evaluated on it. The figures go to `RESULTS_DIR/export/export_report.json`.

use crate::CommonArgs;
use crate::common::{Experiment, required};
use crate::evaluate;
use anyhow::{Context, Result, bail};
use reid_config::ExportDataType;
use reid_data::dataset::list_images;
use reid_export::{CalibrationOptions, ExportOptions, WeightType};
use serde_json::json;
use std::path::PathBuf;

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let (ex, ds) = (&exp.spec.export, &exp.spec.dataset);
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
    let out_dir = exp.subdir("export")?;
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
    let check_dir = [
        &ex.cal_image_dir,
        &ds.query_dataset_dir,
        &ds.test_dataset_dir,
    ]
    .into_iter()
    .flatten()
    .next();
    let check_images = match check_dir {
        Some(dir) => reid_export::sample_images(dir)?,
        None => Vec::new(),
    };
    let calibration = match weights {
        WeightType::Int8 => Some(calibration(&exp)?),
        _ => None,
    };
    let opts = ExportOptions {
        weights,
        batch,
        check_images,
        threads: exp.spec.num_threads,
        calibration,
        key: exp.key.clone(),
    };
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
    if let (WeightType::Int8, Some(set)) = (weights, evaluate::evaluation_set(&exp)) {
        println!(
            "evaluating the checkpoint and the INT8 model on {}",
            set.0.display()
        );
        let before = evaluate::score(&exp, exp.open_model(&checkpoint)?.as_mut(), &set)?;
        let after = evaluate::score(&exp, exp.open_model(&onnx_file)?.as_mut(), &set)?;
        println!(
            "  mAP {:.2}% → {:.2}% ({:+.2} points), rank-1 {:.2}% → {:.2}%",
            100.0 * before.map,
            100.0 * after.map,
            100.0 * (after.map - before.map),
            100.0 * before.rank(1),
            100.0 * after.rank(1)
        );
        report_json["evaluation"] = json!({
            "query": set.0, "test": set.1,
            "checkpoint": {"mAP": before.map, "rank1": before.rank(1)},
            "int8": {"mAP": after.map, "rank1": after.rank(1)},
            "mAP_change": after.map - before.map,
        });
    }
    let report_file = out_dir.join("export_report.json");
    std::fs::write(&report_file, serde_json::to_string_pretty(&report_json)?)
        .with_context(|| format!("cannot write {}", report_file.display()))?;
    println!("report: {}", report_file.display());
    Ok(())
}

/// The INT8 calibration set: `cal_batches × cal_batch_size` images spread evenly over the
/// sorted files of `export.cal_image_dir` (else `dataset.train_dataset_dir`).
fn calibration(exp: &Experiment) -> Result<CalibrationOptions> {
    let (ex, ds) = (&exp.spec.export, &exp.spec.dataset);
    let dir = required(
        &[ex.cal_image_dir.as_ref(), ds.train_dataset_dir.as_ref()],
        "export.cal_image_dir (INT8 calibration images) or dataset.train_dataset_dir",
    )?;
    let files = list_images(&dir)?;
    let wanted = (ex.cal_batches * ex.cal_batch_size).max(1);
    let images: Vec<PathBuf> = if files.len() <= wanted {
        files
    } else {
        (0..wanted)
            .map(|i| files[i * files.len() / wanted].clone())
            .collect()
    };
    if images.is_empty() {
        bail!("export.cal_image_dir {}: no images", dir.display());
    }
    Ok(CalibrationOptions {
        images,
        batch_size: ex.cal_batch_size.max(1),
        method: ex.cal_method,
    })
}
