//! One frame through the models: the detector finds persons, their crops go through the same
//! [`Preprocessor`] as every other reid command, and the ReID model embeds them in one batch
//! (L2-normalised, flip-summed when asked).

use crate::error::TrackError;
use image::RgbImage;
use reid_data::{Features, Preprocessor};
use reid_modeling::{BBox, Detection, Detector, Embedder};
use std::path::Path;

/// A detected person with its appearance embedding.
#[derive(Debug, Clone)]
pub struct Person {
    pub detection: Detection,
    /// L2-normalised.
    pub embedding: Vec<f32>,
}

pub struct Pipeline {
    pub detector: Detector,
    pub model: Box<dyn Embedder>,
    pub pre: Preprocessor,
    pub flip: bool,
    /// Detections scoring lower are ignored.
    pub min_score: f32,
}

/// The part of `img` inside `b` (at least 2×2 pixels), or `None` when it falls outside.
pub fn crop(img: &RgbImage, b: &BBox) -> Option<RgbImage> {
    let (w, h) = img.dimensions();
    let x1 = (b.x1.max(0.0) as u32).min(w);
    let y1 = (b.y1.max(0.0) as u32).min(h);
    let x2 = (b.x2.max(0.0).ceil() as u32).min(w);
    let y2 = (b.y2.max(0.0).ceil() as u32).min(h);
    (x2 >= x1 + 2 && y2 >= y1 + 2)
        .then(|| image::imageops::crop_imm(img, x1, y1, x2 - x1, y2 - y1).to_image())
}

impl Pipeline {
    /// L2-normalised embeddings of `images` (`what` names them in errors).
    pub fn embed(&mut self, images: &[RgbImage], what: &Path) -> Result<Features, TrackError> {
        let mut tensor = Vec::with_capacity(images.len() * self.pre.image_len());
        for img in images {
            tensor.extend(self.pre.prepare(img, what)?);
        }
        let mut feats = reid_engine::extract::embed_tensor(
            self.model.as_mut(),
            &self.pre,
            &mut tensor,
            images.len(),
            self.flip,
        )?;
        feats.l2_normalize();
        Ok(feats)
    }

    /// The persons detected in `frame` and their crops, best detection first.
    pub fn detect(
        &mut self,
        frame: &RgbImage,
    ) -> Result<(Vec<Detection>, Vec<RgbImage>), TrackError> {
        Ok(self
            .detector
            .detect(frame, self.min_score)?
            .into_iter()
            .filter_map(|d| crop(frame, &d.bbox).map(|c| (d, c)))
            .unzip())
    }

    /// The persons of [`Pipeline::detect`] with their embeddings.
    pub fn describe(
        &mut self,
        detections: Vec<Detection>,
        crops: &[RgbImage],
        what: &Path,
    ) -> Result<Vec<Person>, TrackError> {
        if detections.is_empty() {
            return Ok(Vec::new());
        }
        let feats = self.embed(crops, what)?;
        Ok(detections
            .into_iter()
            .zip(feats.rows())
            .map(|(detection, e)| Person {
                detection,
                embedding: e.to_vec(),
            })
            .collect())
    }

    /// The persons in `frame` (named `what` in errors), best detection first.
    pub fn persons(&mut self, frame: &RgbImage, what: &Path) -> Result<Vec<Person>, TrackError> {
        let (detections, crops) = self.detect(frame)?;
        self.describe(detections, &crops, what)
    }
}
