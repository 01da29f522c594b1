//! reid's evaluation stage: distance matrices (`distance`), Market-1501 CMC / mAP / mINP
//! (`metrics`), k-reciprocal re-ranking (`rerank`) and the result pictures (`plots`).

pub mod distance;
pub mod metrics;
pub mod plots;
pub mod rerank;

pub use distance::{DistMat, Distance, distance_matrix};
