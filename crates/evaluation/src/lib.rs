//! reid's evaluation stage: distance matrices (`distance`), Market-1501 CMC / mAP / mINP
//! (`metrics`), k-reciprocal re-ranking (`rerank`), tracking metrics MOTA / IDF1 (`mot`) with
//! their optimal matching (`assignment`), and the result pictures (`plots`).

pub mod assignment;
pub mod distance;
pub mod metrics;
pub mod mot;
pub mod plots;
pub mod rerank;

pub use distance::{DistMat, Distance, distance_matrix};
