//! reid's evaluation stage: distance matrices (`distance`), Market-1501 CMC / mAP / mINP
//! (`metrics`), open-set verification ROC / EER / TAR@FAR (`verification`), k-reciprocal
//! re-ranking (`rerank`), TrackEval-equal tracking metrics CLEAR-MOT / IDF1 (`mot`) and HOTA
//! (`hota`), min-cost matching with a gate (`assignment`), and the result pictures (`plots`).

pub mod assignment;
pub mod distance;
pub mod hota;
pub mod metrics;
pub mod mot;
pub mod plots;
pub mod rerank;
pub mod verification;

pub use distance::{DistMat, Distance, distance_matrix};
