//! Person detection with ONNX models through ONNX Runtime. Supported: FastestDet-style graphs
//! (input `[1, 3, H, W]` BGR in 0–1, output one `[1, 85, H/16, W/16]` grid: objectness, box
//! offsets, 80 COCO class probabilities), decoded as the upstream runner does, then greedy
//! class-agnostic NMS. Images go through the shared [`Preprocessor`] (stretch resize, no
//! mean/std).

use crate::error::ModelError;
use crate::onnx::{first_input, fixed_dim, session, shape_error};
use image::RgbImage;
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use reid_config::ChannelOrder;
use reid_data::Preprocessor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// COCO class index of `person`.
const PERSON: usize = 0;
/// Channels per grid cell: objectness, x, y, w, h, 80 classes.
const CHANNELS: usize = 85;
/// Boxes overlapping a better one by more than this are dropped.
pub const NMS_IOU: f32 = 0.45;

/// An axis-aligned box in image pixels, `x1,y1` top-left and `x2,y2` bottom-right.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Intersection over union.
    pub fn iou(&self, o: &BBox) -> f32 {
        let inter = BBox {
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
            x2: self.x2.min(o.x2),
            y2: self.y2.min(o.y2),
        }
        .area();
        let union = self.area() + o.area() - inter;
        if union > 0.0 { inter / union } else { 0.0 }
    }
}

/// A detected person.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub bbox: BBox,
    pub score: f32,
}

pub struct Detector {
    path: PathBuf,
    session: Session,
    input_name: String,
    output_name: String,
    pre: Preprocessor,
}

impl Detector {
    /// Opens a detector with `threads` intra-op threads (0 = all cores), checking its I/O.
    pub fn open(path: &Path, threads: usize) -> Result<Self, ModelError> {
        let session = session(path, threads, None)?;
        let shape_err = |message: String| shape_error(path, message);
        let input = first_input(&session, path)?;
        let size = match input.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            } if shape.len() == 4 && shape[1] == 3 => fixed_dim(shape[2]).zip(fixed_dim(shape[3])),
            _ => None,
        }
        .ok_or_else(|| {
            shape_err(format!(
                "detector input `{}` must be float32 [1, 3, H, W] with a fixed H and W, found {}",
                input.name(),
                input.dtype()
            ))
        })?;
        let output = session
            .outputs()
            .first()
            .ok_or_else(|| shape_err("the graph has no output".into()))?;
        let grid_ok = matches!(output.dtype(), ValueType::Tensor { ty: TensorElementType::Float32, shape, .. }
            if shape.len() == 4 && shape[1] == CHANNELS as i64);
        if !grid_ok {
            return Err(shape_err(format!(
                "detector output `{}` is {}; supported: a FastestDet-style grid [1, {CHANNELS}, H/16, W/16]",
                output.name(),
                output.dtype()
            )));
        }
        Ok(Self {
            path: path.to_owned(),
            input_name: input.name().to_owned(),
            output_name: output.name().to_owned(),
            session,
            pre: Preprocessor {
                height: size.0,
                width: size.1,
                mean: [0.0; 3],
                std: [1.0; 3],
                channel_order: ChannelOrder::Bgr,
            },
        })
    }

    pub fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// The persons in `img` scoring at least `min_score`, best first, after NMS.
    pub fn detect(&mut self, img: &RgbImage, min_score: f32) -> Result<Vec<Detection>, ModelError> {
        let run_err = |message: String| ModelError::Run {
            path: self.path.clone(),
            message,
        };
        let tensor = self
            .pre
            .prepare(img, &self.path)
            .map_err(|e| run_err(e.to_string()))?;
        let shape = [1, 3, i64::from(self.pre.height), i64::from(self.pre.width)];
        let input =
            TensorRef::from_array_view((shape, &tensor[..])).map_err(|e| run_err(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(|e| run_err(e.to_string()))?;
        let (dims, data) = outputs[self.output_name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| run_err(e.to_string()))?;
        let (gh, gw) = match dims[..] {
            [1, c, h, w] if c == CHANNELS as i64 && h > 0 && w > 0 => (h as usize, w as usize),
            _ => return Err(run_err(format!("output has shape {:?}", &dims[..]))),
        };
        let found = decode_grid(
            data,
            gh,
            gw,
            img.width() as f32,
            img.height() as f32,
            min_score,
        );
        Ok(nms(found, NMS_IOU))
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Person cells of a FastestDet grid (channel-major `85 × gh × gw`) as boxes in a `w × h` image.
fn decode_grid(
    data: &[f32],
    gh: usize,
    gw: usize,
    w: f32,
    h: f32,
    min_score: f32,
) -> Vec<Detection> {
    let plane = gh * gw;
    let at = |ch: usize, cell: usize| data[ch * plane + cell];
    let mut out = Vec::new();
    for cell in 0..plane {
        let (r, c) = (cell / gw, cell % gw);
        let (class, prob) = (5..CHANNELS)
            .map(|ch| (ch - 5, at(ch, cell)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("80 classes");
        let score = at(0, cell).max(0.0).powf(0.6) * prob.max(0.0).powf(0.4);
        if class != PERSON || score < min_score {
            continue;
        }
        let cx = (c as f32 + at(1, cell).tanh()) / gw as f32;
        let cy = (r as f32 + at(2, cell).tanh()) / gh as f32;
        let (bw, bh) = (sigmoid(at(3, cell)), sigmoid(at(4, cell)));
        out.push(Detection {
            bbox: BBox {
                x1: ((cx - bw / 2.0) * w).clamp(0.0, w),
                y1: ((cy - bh / 2.0) * h).clamp(0.0, h),
                x2: ((cx + bw / 2.0) * w).clamp(0.0, w),
                y2: ((cy + bh / 2.0) * h).clamp(0.0, h),
            },
            score,
        });
    }
    out
}

/// Greedy non-maximum suppression: best first, dropping boxes with IoU > `iou` to a kept one.
pub fn nms(mut found: Vec<Detection>, iou: f32) -> Vec<Detection> {
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in found {
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) <= iou) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox { x1, y1, x2, y2 },
            score,
        }
    }

    #[test]
    fn iou_and_nms_by_hand() {
        let a = BBox {
            x1: 0.0,
            y1: 0.0,
            x2: 10.0,
            y2: 10.0,
        };
        let b = BBox {
            x1: 5.0,
            y1: 0.0,
            x2: 15.0,
            y2: 10.0,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(
            a.iou(&BBox {
                x1: 20.0,
                y1: 20.0,
                x2: 30.0,
                y2: 30.0
            }),
            0.0
        );
        let kept = nms(
            vec![
                det(0.0, 0.0, 10.0, 10.0, 0.7),
                det(1.0, 0.0, 11.0, 10.0, 0.9),
                det(5.0, 0.0, 15.0, 10.0, 0.8),
            ],
            0.45,
        );
        // 0.9 kept; 0.7 overlaps it by 9/11 → dropped; 0.8 overlaps it by 6/14 → kept.
        assert_eq!(
            kept.iter().map(|d| d.score).collect::<Vec<_>>(),
            vec![0.9, 0.8]
        );
    }

    #[test]
    fn a_grid_cell_decodes_as_the_upstream_runner() {
        let (gh, gw) = (2, 2);
        let mut data = vec![0.0f32; CHANNELS * gh * gw];
        let cell = gw + 1; // row 1, column 1
        let set = |data: &mut Vec<f32>, ch: usize, v: f32| data[ch * gh * gw + cell] = v;
        set(&mut data, 0, 0.9); // objectness
        set(&mut data, 5, 0.8); // person probability
        set(&mut data, 6, 0.2);
        // centre offsets 0 → cell corner (1/2, 1/2); size logits 0 → half the image.
        let found = decode_grid(&data, gh, gw, 200.0, 100.0, 0.5);
        assert_eq!(found.len(), 1);
        let d = found[0];
        assert!((d.score - 0.9f32.powf(0.6) * 0.8f32.powf(0.4)).abs() < 1e-6);
        assert_eq!(
            d.bbox,
            BBox {
                x1: 50.0,
                y1: 25.0,
                x2: 150.0,
                y2: 75.0
            }
        );
        // Another class winning the cell, or a low score, yields nothing.
        set(&mut data, 6, 0.85);
        assert!(decode_grid(&data, gh, gw, 200.0, 100.0, 0.5).is_empty());
    }
}
