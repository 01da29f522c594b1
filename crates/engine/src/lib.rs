//! reid's engine stage: running models over datasets — pipelined feature extraction
//! (`extract`) and throughput benchmarks (`bench`).

pub mod bench;
mod error;
pub mod extract;

pub use error::EngineError;
pub use extract::{ExtractOptions, Extracted, extract};
