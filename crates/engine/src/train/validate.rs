//! Validation during training: the network in evaluation mode goes through the evaluation
//! pipeline of `reid evaluate` (`crate::evaluation`) on the spec's validation sets, once per
//! ranking asked for.

use crate::error::EngineError;
use crate::evaluation::{self, evaluate};
use crate::extract::ExtractOptions;
use crate::ranking::Ranking;
use reid_data::{ImageSet, Preprocessor};
use reid_modeling::Embedder;

/// Rank-1 and mAP of `model` on (query, gallery) under each of `rankings`, in that order.
pub fn rank1_map(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    (query, gallery): &(ImageSet, ImageSet),
    opts: &ExtractOptions,
    rankings: &[Ranking],
) -> Result<Vec<(f64, f64)>, EngineError> {
    let labelled = |label: &str| ExtractOptions {
        label: label.to_owned(),
        ..opts.clone()
    };
    let q = evaluation::embed_set(model, pre, query, &labelled("val query"))?;
    let g = evaluation::embed_set(model, pre, gallery, &labelled("val test"))?;
    rankings
        .iter()
        .map(|r| {
            let m = evaluate(&q, &g, r, 1)?.metrics;
            Ok((m.rank(1), m.map))
        })
        .collect()
}
