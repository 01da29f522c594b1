//! reid's data stage: labelled image sets in every supported layout (`dataset`) and their
//! statistics, checks, conversion and splitting (`curate`), the single pre-processing path every
//! command uses (`preprocess`) and its training augmentation (`augment`), feature matrices and
//! embeddings files (`features`), and the P×K identity sampler of training (`sampler`).

pub mod augment;
pub mod curate;
pub mod dataset;
mod error;
pub mod features;
pub mod preprocess;
pub mod sampler;

pub use augment::Augmenter;
pub use dataset::{ImageRecord, ImageSet, Skipped};
pub use error::DataError;
pub use features::{EmbeddingRecord, Features, SetName, l2_normalize};
pub use preprocess::{Batch, Preprocessor};
