//! `reid inference`: embeddings of every image under `inference.query_dataset` and
//! `inference.test_dataset` (any file names), written to `inference.output_file` as
//! `[{"img_path", "embedding", "set"}, …]` — all batches, raw model output (flip-summed when
//! `model.with_flip_feature`).

use crate::CommonArgs;
use crate::common::{Experiment, required};
use anyhow::{Result, bail};
use reid_data::{EmbeddingRecord, SetName, dataset::list_images};

pub fn run(args: &CommonArgs) -> Result<()> {
    let exp = Experiment::load(args)?;
    let (inf, ds) = (&exp.spec.inference, &exp.spec.dataset);
    let checkpoint = required(&[inf.checkpoint.as_ref()], "inference.checkpoint")?;
    let sets: Vec<_> = [
        (
            SetName::Query,
            inf.query_dataset.as_ref().or(ds.query_dataset_dir.as_ref()),
        ),
        (
            SetName::Test,
            inf.test_dataset.as_ref().or(ds.test_dataset_dir.as_ref()),
        ),
    ]
    .into_iter()
    .filter_map(|(name, dir)| dir.map(|d| (name, d.clone())))
    .collect();
    if sets.is_empty() {
        bail!("missing setting: give inference.query_dataset and/or inference.test_dataset");
    }
    let output = match &inf.output_file {
        Some(f) => f.clone(),
        None => exp.subdir("inference")?.join("embeddings.json"),
    };
    let mut model = exp.open_model(&checkpoint)?;
    let mut records = Vec::new();
    for (name, dir) in sets {
        let paths = list_images(&dir)?;
        if paths.is_empty() {
            bail!("{} holds no images", dir.display());
        }
        let label = match name {
            SetName::Query => "query",
            SetName::Test => "test",
        };
        let out = exp.embed(model.as_mut(), &paths, label)?;
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
