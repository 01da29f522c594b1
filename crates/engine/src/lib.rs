//! reid's engine stage: running models over datasets — feature extraction (`extract`),
//! throughput benchmarks (`bench`) — and the training learning-rate schedule (`schedule`).

pub mod bench;
mod error;
pub mod extract;
pub mod schedule;

pub use error::EngineError;
pub use extract::{ExtractOptions, Extracted, extract};
