//! reid's engine stage: running models over datasets — training (`train`), feature
//! extraction (`extract`), the evaluation pipeline (`evaluation`) with its ranking rule
//! (`ranking`), opening a model with its pre-processing (`model`), throughput benchmarks
//! (`bench`), TAO's status.json (`tao_status`).

pub mod bench;
mod error;
pub mod evaluation;
pub mod extract;
pub mod memory;
pub mod model;
pub mod ranking;
pub mod tao_status;
pub mod train;

pub use error::EngineError;
pub use extract::{ExtractOptions, Extracted, extract};
