//! The one ranking rule of `reid evaluate` and of validation during training: on L2-normalised
//! embeddings, the spec's `evaluate.metric`, or k-reciprocal re-ranking when
//! `re_ranking.re_ranking` is set (TAO's `re_ranking.k1 / k2 / lambda_value`).

use reid_config::{Metric, ReRankingConfig, Spec};
use reid_data::Features;
use reid_evaluation::rerank::{ReRankParams, re_rank};
use reid_evaluation::{DistMat, Distance, distance_matrix};

/// How a gallery is ranked for each query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ranking {
    /// Plain distances.
    Metric(Metric),
    /// k-reciprocal re-ranking.
    ReRank(ReRankParams),
}

impl Ranking {
    /// The ranking `reid evaluate` applies for `spec`.
    pub fn of_spec(spec: &Spec) -> Self {
        if spec.re_ranking.re_ranking {
            Self::ReRank(rerank_params(&spec.re_ranking))
        } else {
            Self::plain(spec)
        }
    }

    /// The spec's metric without re-ranking.
    pub fn plain(spec: &Spec) -> Self {
        Self::Metric(spec.evaluate.metric)
    }

    /// `query.len() × gallery.len()` distances; both sides must be L2-normalised.
    pub fn distances(&self, query: &Features, gallery: &Features) -> DistMat {
        match self {
            Self::Metric(metric) => {
                let distance = match metric {
                    Metric::Euclidean => Distance::Euclidean,
                    Metric::Cosine => Distance::Cosine,
                };
                distance_matrix(query, gallery, distance)
            }
            Self::ReRank(params) => re_rank(query, gallery, params),
        }
    }
}

/// The spec's re-ranking parameters (also used by the service's re-ranked search).
pub fn rerank_params(cfg: &ReRankingConfig) -> ReRankParams {
    ReRankParams {
        k1: cfg.k1,
        k2: cfg.k2,
        lambda_value: cfg.lambda_value,
    }
}
