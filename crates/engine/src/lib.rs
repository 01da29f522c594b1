//! reid's engine stage: running models over datasets — training (`train`), feature
//! extraction (`extract`), throughput benchmarks (`bench`).

pub mod bench;
mod error;
pub mod extract;
pub mod memory;
pub mod ranking;
pub mod train;

pub use error::EngineError;
pub use extract::{ExtractOptions, Extracted, extract};
