//! `reid inference`: embeddings of every image of `inference.query_dataset` and
//! `inference.test_dataset` (else `dataset.*`; folders with any file names, or list files),
//! written to `inference.output_file` as `[{"img_path", "embedding", "set"}, …]` — all
//! batches, raw model output (flip-summed when `model.with_flip_feature`).

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Result, bail};
use reid_data::dataset::image_paths;
use reid_data::{EmbeddingRecord, SetName};
use reid_engine::tao_status::TaoStatus;
use std::path::Path;

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let out_dir = exp.subdir("inference", exp.spec.inference.results_dir.as_ref())?;
    let status = TaoStatus::start(&out_dir, "inference")?;
    status.finish(run_in(&exp, &out_dir))
}

fn run_in(exp: &Experiment, out_dir: &Path) -> Result<()> {
    let inf = &exp.spec.inference;
    let checkpoint = required(&[inf.checkpoint.as_ref()], "inference.checkpoint")?;
    let (query, test) = exp.spec.inference_sets();
    let sets: Vec<_> = [(SetName::Query, query), (SetName::Test, test)]
        .into_iter()
        .filter_map(|(name, source)| source.map(|s| (name, s)))
        .collect();
    if sets.is_empty() {
        bail!("missing setting: give inference.query_dataset and/or inference.test_dataset");
    }
    let output = inf
        .output_file
        .clone()
        .unwrap_or_else(|| out_dir.join("embeddings.json"));
    let mut model = exp.open_model(&checkpoint)?;
    let mut records = Vec::new();
    for (name, source) in sets {
        let paths = image_paths(&source)?;
        let label = match name {
            SetName::Query => "query",
            SetName::Test => "test",
        };
        let out = exp.embed(&mut model, &paths, label)?;
        records.extend(
            out.ok
                .iter()
                .zip(out.features.rows())
                .map(|(&i, row)| EmbeddingRecord {
                    img_path: paths[i].display().to_string(),
                    embedding: row.to_vec(),
                    set: Some(name),
                }),
        );
    }
    reid_data::features::write_embeddings(&output, &records)?;
    println!(
        "reid inference: {} embeddings written to {}",
        records.len(),
        output.display()
    );
    Ok(())
}
