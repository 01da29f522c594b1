//! Person detection with ONNX models through ONNX Runtime, told apart by their output:
//! - FastestDet-style (input BGR in 0–1, output one `[1, 85, H/16, W/16]` grid: objectness, box
//!   offsets, 80 COCO class probabilities), decoded as the upstream runner does;
//! - YOLO-style with the boxes decoded in the graph (input RGB in 0–1): YOLOv5/v7 rows
//!   `[1, N, 5 + C]` (centre x, y, width, height in input pixels, objectness, class scores) or
//!   YOLOv8/v11 columns `[1, 4 + C, N]` (no objectness); class 0 is the person (COCO, or a
//!   one-class person detector). A dynamic input size runs at 640×640.
//!
//! Then greedy class-agnostic NMS. Images go through the shared [`Preprocessor`] (stretch resize,
//! no mean/std); boxes are scaled back to the frame.

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
/// Input side of YOLO-style graphs with a dynamic input size.
const YOLO_DEFAULT_SIZE: u32 = 640;

/// How a detector's output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `[1, 85, gh, gw]`.
    FastestDet,
    /// `[1, N, 5 + C]`: a row per box, with objectness.
    YoloRows,
    /// `[1, 4 + C, N]`: a column per box, no objectness.
    YoloColumns,
}

impl Layout {
    /// The layout of an output of shape `dims` (−1 for dynamic axes).
    fn of(dims: &[i64]) -> Option<Self> {
        match *dims {
            [1, c, _, _] if c == CHANNELS as i64 => Some(Self::FastestDet),
            // Boxes outnumber the values per box; a dynamic axis is the box axis.
            [1, a, b] if b >= 6 && (a < 0 || a > b) => Some(Self::YoloRows),
            [1, a, b] if a >= 5 && (b < 0 || b > a) => Some(Self::YoloColumns),
            _ => None,
        }
    }
}

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
    layout: Layout,
    pre: Preprocessor,
}

impl Detector {
    /// Opens a detector with `threads` intra-op threads (0 = all cores), checking its I/O.
    pub fn open(path: &Path, threads: usize) -> Result<Self, ModelError> {
        let session = session(path, threads, None)?;
        let shape_err = |message: String| shape_error(path, message);
        let input = first_input(&session, path)?;
        let output = session
            .outputs()
            .first()
            .ok_or_else(|| shape_err("the graph has no output".into()))?;
        let layout = match output.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            } => Layout::of(shape),
            _ => None,
        }
        .ok_or_else(|| {
            shape_err(format!(
                "detector output `{}` is {}; supported: a FastestDet-style grid \
                 [1, {CHANNELS}, H/16, W/16], YOLOv5-style rows [1, N, 5 + classes] or \
                 YOLOv8-style columns [1, 4 + classes, N]",
                output.name(),
                output.dtype()
            ))
        })?;
        let size = match input.dtype() {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            } if shape.len() == 4 && shape[1] == 3 => {
                match (fixed_dim(shape[2]), fixed_dim(shape[3])) {
                    (Some(h), Some(w)) => Some((h, w)),
                    (None, None) if layout != Layout::FastestDet => {
                        Some((YOLO_DEFAULT_SIZE, YOLO_DEFAULT_SIZE))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
        .ok_or_else(|| {
            shape_err(format!(
                "detector input `{}` must be float32 [1, 3, H, W] with a fixed H and W, found {}",
                input.name(),
                input.dtype()
            ))
        })?;
        let channel_order = match layout {
            Layout::FastestDet => ChannelOrder::Bgr,
            Layout::YoloRows | Layout::YoloColumns => ChannelOrder::Rgb,
        };
        Ok(Self {
            path: path.to_owned(),
            input_name: input.name().to_owned(),
            output_name: output.name().to_owned(),
            layout,
            session,
            pre: Preprocessor {
                height: size.0,
                width: size.1,
                mean: [0.0; 3],
                std: [1.0; 3],
                channel_order,
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
        let (w, h) = (img.width() as f32, img.height() as f32);
        let bad_shape = || run_err(format!("output has shape {:?}", &dims[..]));
        let found = match (self.layout, &dims[..]) {
            (Layout::FastestDet, &[1, c, gh, gw]) if c == CHANNELS as i64 && gh > 0 && gw > 0 => {
                decode_grid(data, gh as usize, gw as usize, w, h, min_score)
            }
            (Layout::YoloRows | Layout::YoloColumns, &[1, a, b]) if a > 0 && b > 0 => {
                let rows = self.layout == Layout::YoloRows;
                let (boxes, values) = if rows { (a, b) } else { (b, a) };
                let scale = (w / self.pre.width as f32, h / self.pre.height as f32);
                let yolo = Yolo {
                    data,
                    boxes: boxes as usize,
                    values: values as usize,
                    rows,
                };
                yolo.decode(scale, (w, h), min_score)
            }
            _ => return Err(bad_shape()),
        };
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

/// A YOLO-style output: `boxes` boxes of `values` numbers (centre x, y, width, height in input
/// pixels, then objectness when `rows`, then class scores), stored box-major when `rows`,
/// value-major otherwise.
struct Yolo<'a> {
    data: &'a [f32],
    boxes: usize,
    values: usize,
    rows: bool,
}

impl Yolo<'_> {
    fn at(&self, b: usize, v: usize) -> f32 {
        if self.rows {
            self.data[b * self.values + v]
        } else {
            self.data[v * self.boxes + b]
        }
    }

    /// Person boxes scoring at least `min_score`, scaled by `scale` into a `w × h` frame.
    fn decode(&self, scale: (f32, f32), (w, h): (f32, f32), min_score: f32) -> Vec<Detection> {
        let first_class = if self.rows { 5 } else { 4 };
        if self.values <= first_class {
            return Vec::new();
        }
        let mut out = Vec::new();
        for b in 0..self.boxes {
            let (class, prob) = (first_class..self.values)
                .map(|v| (v - first_class, self.at(b, v)))
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .expect("at least one class");
            let objectness = if self.rows { self.at(b, 4) } else { 1.0 };
            let score = objectness * prob;
            if class != PERSON || score.is_nan() || score < min_score {
                continue;
            }
            let (cx, cy) = (self.at(b, 0) * scale.0, self.at(b, 1) * scale.1);
            let (bw, bh) = (self.at(b, 2) * scale.0, self.at(b, 3) * scale.1);
            out.push(Detection {
                bbox: BBox {
                    x1: (cx - bw / 2.0).clamp(0.0, w),
                    y1: (cy - bh / 2.0).clamp(0.0, h),
                    x2: (cx + bw / 2.0).clamp(0.0, w),
                    y2: (cy + bh / 2.0).clamp(0.0, h),
                },
                score,
            });
        }
        out
    }
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

    #[test]
    fn yolo_rows_and_columns_decode_alike_and_layouts_are_told_apart() {
        // Two boxes in a 640×640 input, 3 classes: a person (0) and a car (1).
        let person = [320.0, 160.0, 64.0, 128.0];
        let car = [100.0, 100.0, 50.0, 50.0];
        let classes = |p: f32, c: f32| [p, c, 0.0];
        // Rows (v5): x, y, w, h, objectness, classes.
        let mut rows = Vec::new();
        rows.extend(person);
        rows.push(0.9);
        rows.extend(classes(0.8, 0.1));
        rows.extend(car);
        rows.push(0.9);
        rows.extend(classes(0.1, 0.95));
        let v5 = Yolo {
            data: &rows,
            boxes: 2,
            values: 8,
            rows: true,
        };
        // Columns (v8): the same without objectness, value-major.
        let boxes: [Vec<f32>; 2] = [
            person.iter().copied().chain(classes(0.72, 0.1)).collect(),
            car.iter().copied().chain(classes(0.1, 0.95)).collect(),
        ];
        let cols: Vec<f32> = (0..7).flat_map(|v| [boxes[0][v], boxes[1][v]]).collect();
        let v8 = Yolo {
            data: &cols,
            boxes: 2,
            values: 7,
            rows: false,
        };
        // A 1280×720 frame: x scales by 2, y by 1.125.
        for found in [
            v5.decode((2.0, 1.125), (1280.0, 720.0), 0.5),
            v8.decode((2.0, 1.125), (1280.0, 720.0), 0.5),
        ] {
            assert_eq!(found.len(), 1, "only the person");
            assert!((found[0].score - 0.72).abs() < 1e-6);
            assert_eq!(
                found[0].bbox,
                BBox {
                    x1: 576.0,
                    y1: 108.0,
                    x2: 704.0,
                    y2: 252.0
                }
            );
        }
        assert!(v5.decode((1.0, 1.0), (640.0, 640.0), 0.75).is_empty());
        assert_eq!(Layout::of(&[1, 85, 22, 22]), Some(Layout::FastestDet));
        assert_eq!(Layout::of(&[1, 25200, 85]), Some(Layout::YoloRows));
        assert_eq!(Layout::of(&[1, 84, 8400]), Some(Layout::YoloColumns));
        assert_eq!(Layout::of(&[1, 5, -1]), Some(Layout::YoloColumns));
        assert_eq!(Layout::of(&[1, -1, 6]), Some(Layout::YoloRows));
        assert_eq!(Layout::of(&[1, 512]), None);
    }
}
