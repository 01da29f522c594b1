//! The interface every ReID model offers to the engine: a batch of pre-processed images in,
//! one embedding per image out.

use crate::error::ModelError;
use reid_data::{Features, Preprocessor};

pub trait Embedder: Send {
    /// What the model is, for logs and result files (usually its path).
    fn describe(&self) -> String;
    /// The input `(height, width)` the model is fixed to, where it fixes them.
    fn input_size(&self) -> (Option<u32>, Option<u32>);
    /// The batch size the model is fixed to, if any (the engine may still pass any `n`).
    fn max_batch(&self) -> Option<usize>;
    /// The pre-processing the model records for itself (native checkpoints do); `None` means
    /// the spec's `model.input_*` / `dataset.pixel_*` / `dataset.channel_order` apply.
    fn preprocessor(&self) -> Option<Preprocessor> {
        None
    }
    /// Embeds `n` images given as an NCHW tensor of `n × 3 × h × w` values.
    fn embed(&mut self, tensor: &[f32], n: usize, h: u32, w: u32) -> Result<Features, ModelError>;
}
