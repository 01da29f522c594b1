//! `reid train`: trains a native network as the spec says into `RESULTS_DIR/train/`
//! (checkpoints, `status.jsonl`, `training_curves.png`, the effective spec as `experiment.yaml`),
//! resuming from `train.resume` or the newest checkpoint there.

use crate::CommonArgs;
use crate::common::Experiment;
use anyhow::{Context, Result};
use reid_engine::tao_status::TaoStatus;
use reid_engine::train::{CURVES_FILE, STATUS_FILE};
use std::path::Path;

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let out_dir = exp.subdir("train", exp.spec.train.results_dir.as_ref())?;
    let status = TaoStatus::start(&out_dir, "train")?;
    status.finish(run_in(&exp, &out_dir))
}

fn run_in(exp: &Experiment, out_dir: &Path) -> Result<()> {
    let spec_copy = out_dir.join("experiment.yaml");
    std::fs::write(&spec_copy, serde_yaml::to_string(&exp.spec)?)
        .with_context(|| format!("cannot write {}", spec_copy.display()))?;
    let device = reid_modeling::device(exp.spec.device)?;
    let outcome = reid_engine::train::train(&exp.spec, out_dir, &device, exp.key.as_ref())?;
    match (&outcome.last, &outcome.last_checkpoint) {
        (None, _) => println!(
            "reid train: nothing to do, {} of {} epochs already trained in {}",
            outcome.resumed_from,
            exp.spec.train.num_epochs,
            out_dir.display()
        ),
        (Some(last), checkpoint) => {
            println!(
                "reid train: epochs {}..{} done, loss {:.4}, {:.1} img/s",
                outcome.resumed_from + 1,
                last.epoch,
                last.loss,
                last.img_per_s
            );
            let scores = last.metrics_text();
            if let Some(scores) = scores.strip_prefix(", ") {
                println!("  {scores}");
            }
            if let Some(path) = checkpoint {
                println!("checkpoint: {}", path.display());
            }
            for file in [STATUS_FILE, CURVES_FILE] {
                println!("{}", out_dir.join(file).display());
            }
        }
    }
    Ok(())
}
