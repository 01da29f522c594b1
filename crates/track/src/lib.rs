//! reid's video stage: a [`Pipeline`] that detects persons in a frame and embeds their crops
//! through the shared pre-processing; person [`search`] over camera frames; and [`run`]: video
//! decoding ([`video`]), motion ([`kalman`]) and appearance tracking ([`tracker`]) within each
//! camera, with global identities across cameras.

mod error;
pub mod kalman;
mod pipeline;
pub mod run;
pub mod search;
pub mod tracker;
pub mod video;

pub use error::TrackError;
pub use pipeline::{Person, Pipeline, crop};
