//! reid's data stage: Market-1501 datasets (`dataset`), the single pre-processing path every
//! command uses (`preprocess`) and its training augmentation (`augment`), feature matrices and embeddings files (`features`), and the P×K
//! identity sampler of training (`sampler`).

pub mod augment;
pub mod dataset;
mod error;
pub mod features;
pub mod preprocess;
pub mod sampler;

pub use augment::Augmenter;
pub use dataset::{ImageRecord, ImageSet, Skipped};
pub use error::DataError;
pub use features::{EmbeddingRecord, Features, SetName};
pub use preprocess::{Batch, Preprocessor};
