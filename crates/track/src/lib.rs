//! reid's video stage: a [`Pipeline`] that detects persons in a frame and embeds their crops
//! through the shared pre-processing, and person [`search`] over camera frames. Tracking across
//! frames and cameras builds on the same pipeline.

mod error;
mod pipeline;
pub mod search;

pub use error::TrackError;
pub use pipeline::{Person, Pipeline};
