//! Validation during training: the network in evaluation mode embeds the spec's query and test
//! sets through the same extraction path as `reid evaluate`, and rank-1 / mAP are computed by
//! the same ranking rules (`crate::ranking`).

use crate::error::EngineError;
use crate::extract::{ExtractOptions, extract};
use crate::ranking::Ranking;
use reid_data::{ImageSet, Preprocessor};
use reid_evaluation::metrics::{self, Labels};
use reid_modeling::Embedder;
use std::path::{Path, PathBuf};

/// A labelled image set to embed.
pub struct Side {
    paths: Vec<PathBuf>,
    pids: Vec<i32>,
    camids: Vec<u32>,
}

impl Side {
    pub fn read(dir: &Path) -> Result<Self, EngineError> {
        let set = ImageSet::read_market(dir)?;
        Ok(Self {
            paths: set.items.iter().map(|r| r.path.clone()).collect(),
            pids: set.items.iter().map(|r| r.pid).collect(),
            camids: set.items.iter().map(|r| r.camid).collect(),
        })
    }
}

/// Rank-1 and mAP of `model` on (query, gallery) under each of `rankings`, in that order.
pub fn rank1_map(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    query: &Side,
    gallery: &Side,
    opts: &ExtractOptions,
    rankings: &[Ranking],
) -> Result<Vec<(f64, f64)>, EngineError> {
    let mut embed = |side: &Side, label: &str| -> Result<_, EngineError> {
        let opts = ExtractOptions {
            label: label.to_owned(),
            ..opts.clone()
        };
        let mut out = extract(model, pre, &side.paths, &opts)?;
        out.features.l2_normalize();
        let pids: Vec<i32> = out.ok.iter().map(|&i| side.pids[i]).collect();
        let camids: Vec<u32> = out.ok.iter().map(|&i| side.camids[i]).collect();
        Ok((out.features, pids, camids))
    };
    let (qf, qp, qc) = embed(query, "val query")?;
    let (gf, gp, gc) = embed(gallery, "val test")?;
    let (q, g) = (
        Labels {
            pids: &qp,
            camids: &qc,
        },
        Labels {
            pids: &gp,
            camids: &gc,
        },
    );
    Ok(rankings
        .iter()
        .map(|r| {
            let m = metrics::evaluate(&r.distances(&qf, &gf), q, g, 1);
            (m.rank(1), m.map)
        })
        .collect())
}
