//! `reid export`: a native checkpoint (`export.checkpoint`) to ONNX (`export.onnx_file`, by
//! default `RESULTS_DIR/export/<checkpoint name>.onnx`) with `export.data_type` fp32 or fp16 and
//! `export.batch_size` (−1: dynamic), checked against the checkpoint in ONNX Runtime on images
//! from `export.cal_image_dir` (else the query/test folder); the check's figures go to
//! `RESULTS_DIR/export/export_report.json`.

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Context, Result, bail};
use reid_config::ExportDataType;
use reid_export::{ExportOptions, WeightType};

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let (ex, ds) = (&exp.spec.export, &exp.spec.dataset);
    let checkpoint = required(&[ex.checkpoint.as_ref()], "export.checkpoint")?;
    let weights = match ex.data_type {
        ExportDataType::Fp32 => WeightType::Fp32,
        ExportDataType::Fp16 => WeightType::Fp16,
        ExportDataType::Int8 => {
            bail!("export.data_type=int8 is not available yet; use fp32 or fp16")
        }
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
    let opts = ExportOptions {
        weights,
        batch,
        check_images,
        threads: exp.spec.num_threads,
    };
    let report = reid_export::export(&checkpoint, &onnx_file, &opts)?;
    let report_file = out_dir.join("export_report.json");
    std::fs::write(&report_file, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", report_file.display()))?;
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
    println!("report: {}", report_file.display());
    Ok(())
}
