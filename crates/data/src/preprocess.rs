//! The one pre-processing path from an image file to a network input, shared by every command:
//! decode (format from the content), resize to `model.input_height × input_width` with an
//! antialiasing bilinear filter (PIL's, SIMD via fast_image_resize), channel order, then `(x/255 − mean) / std`
//! into an NCHW float batch; `mirror` flips a batch for flip test-time augmentation.

use crate::dataset::Skipped;
use crate::error::DataError;
use fast_image_resize::images::{TypedImage, TypedImageRef};
use fast_image_resize::{self as fr, pixels::U8x3};
use image::RgbImage;
use rayon::prelude::*;
use reid_config::{ChannelOrder, Spec};
use std::path::{Path, PathBuf};

/// Resize + normalisation settings for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessor {
    pub height: u32,
    pub width: u32,
    /// Mean per channel in 0–1 units, in `channel_order`.
    pub mean: [f32; 3],
    /// Standard deviation per channel in 0–1 units, in `channel_order`.
    pub std: [f32; 3],
    pub channel_order: ChannelOrder,
}

/// A batch in NCHW layout plus the inputs that could not be used.
#[derive(Debug, Default)]
pub struct Batch {
    /// `ok.len() × 3 × height × width` values.
    pub tensor: Vec<f32>,
    /// Indices (into the requested paths) of the images in `tensor`, in order.
    pub ok: Vec<usize>,
    pub failed: Vec<Skipped>,
}

impl Preprocessor {
    /// Settings from `model.input_*` and `dataset.pixel_mean/pixel_std/channel_order`
    /// (already validated to hold three values each).
    pub fn from_spec(spec: &Spec) -> Self {
        let three = |v: &[f32]| [v[0], v[1], v[2]];
        Self {
            height: spec.model.input_height,
            width: spec.model.input_width,
            mean: three(&spec.dataset.pixel_mean),
            std: three(&spec.dataset.pixel_std),
            channel_order: spec.dataset.channel_order,
        }
    }

    /// The settings as `(key, value)` text pairs, as exported ONNX models record them in their
    /// metadata (`metadata_props`), so that they can be fed without a spec.
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        let list = |v: &[f32; 3]| v.map(|x| x.to_string()).join(",");
        let order = match self.channel_order {
            ChannelOrder::Rgb => "rgb",
            ChannelOrder::Bgr => "bgr",
        };
        [
            ("input_height", self.height.to_string()),
            ("input_width", self.width.to_string()),
            ("channel_order", order.to_owned()),
            ("pixel_mean", list(&self.mean)),
            ("pixel_std", list(&self.std)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The settings from metadata written by [`Self::to_metadata`]; None when any is missing
    /// or unreadable.
    pub fn from_metadata(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let three = |key: &str| -> Option<[f32; 3]> {
            let v: Vec<f32> = get(key)?
                .split(',')
                .map(|x| x.trim().parse().ok())
                .collect::<Option<_>>()?;
            v.try_into().ok()
        };
        Some(Self {
            height: get("input_height")?.parse().ok()?,
            width: get("input_width")?.parse().ok()?,
            mean: three("pixel_mean")?,
            std: three("pixel_std")?,
            channel_order: match get("channel_order")?.as_str() {
                "rgb" => ChannelOrder::Rgb,
                "bgr" => ChannelOrder::Bgr,
                _ => return None,
            },
        })
    }

    /// Values per image in the batch tensor.
    pub fn image_len(&self) -> usize {
        3 * (self.height * self.width) as usize
    }

    /// Decodes `path` to RGB, guessing the format from the content, not the extension.
    pub fn decode(path: &Path) -> Result<RgbImage, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::decode_bytes(&bytes, path)
    }

    /// Decodes an encoded image held in memory (`what` names it in errors), format from the
    /// content. (`image::load_from_memory` keeps the codecs' code in the `image` crate, built
    /// once, instead of instantiating every decoder here.)
    pub fn decode_bytes(bytes: &[u8], what: &Path) -> Result<RgbImage, DataError> {
        image::load_from_memory(bytes)
            .map(|img| img.to_rgb8())
            .map_err(|e| DataError::Decode {
                path: what.to_owned(),
                message: e.to_string(),
            })
    }

    /// Resizes to the network input size. (The typed call instantiates fast_image_resize's
    /// convolution for RGB8 only, not for every pixel type: this crate's build went from 225 s to 41 s.)
    pub fn resize(&self, img: &RgbImage) -> Result<RgbImage, String> {
        if img.dimensions() == (self.width, self.height) {
            return Ok(img.clone());
        }
        let src = TypedImageRef::<U8x3>::from_buffer(img.width(), img.height(), img.as_raw())
            .map_err(|e| e.to_string())?;
        let mut out = vec![0u8; self.image_len()];
        let mut dst = TypedImage::<U8x3>::from_buffer(self.width, self.height, &mut out)
            .map_err(|e| e.to_string())?;
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
        fr::Resizer::new()
            .resize_typed(&src, &mut dst, &options)
            .map_err(|e| e.to_string())?;
        RgbImage::from_raw(self.width, self.height, out)
            .ok_or_else(|| "resized buffer has the wrong size".to_owned())
    }

    /// Writes an image already at the input size into `out` (CHW), normalised.
    pub fn write_chw(&self, img: &RgbImage, out: &mut [f32]) {
        let (w, h) = (self.width as usize, self.height as usize);
        assert_eq!(img.dimensions(), (self.width, self.height), "resize first");
        assert_eq!(out.len(), 3 * w * h);
        let src_channel = match self.channel_order {
            ChannelOrder::Rgb => [0, 1, 2],
            ChannelOrder::Bgr => [2, 1, 0],
        };
        let raw = img.as_raw();
        for (c, plane) in out.chunks_exact_mut(w * h).enumerate() {
            let scale = 1.0 / (255.0 * self.std[c]);
            let shift = self.mean[c] / self.std[c];
            let sc = src_channel[c];
            for (y, row) in plane.chunks_exact_mut(w).enumerate() {
                let src_row = &raw[y * w * 3..(y + 1) * w * 3];
                for (v, px) in row.iter_mut().zip(src_row.chunks_exact(3)) {
                    *v = f32::from(px[sc]) * scale - shift;
                }
            }
        }
    }

    /// Resizes and normalises a decoded image (`what` names it in errors) into a CHW tensor.
    pub fn prepare(&self, img: &RgbImage, what: &Path) -> Result<Vec<f32>, DataError> {
        let img = self.resize(img).map_err(|message| DataError::Decode {
            path: what.to_owned(),
            message,
        })?;
        let mut out = vec![0.0; self.image_len()];
        self.write_chw(&img, &mut out);
        Ok(out)
    }

    /// Decodes, resizes and normalises one file into a CHW tensor.
    pub fn load(&self, path: &Path) -> Result<Vec<f32>, DataError> {
        self.prepare(&Self::decode(path)?, path)
    }

    /// Mirrors every image of an NCHW batch left–right, in place.
    pub fn mirror(&self, tensor: &mut [f32]) {
        tensor
            .chunks_exact_mut(self.width as usize)
            .for_each(|row| row.reverse());
    }

    /// Loads `paths` in parallel (on the current rayon pool) into one NCHW batch. Images that fail
    /// to decode are left out and reported in [`Batch::failed`]; the call itself never fails.
    pub fn load_batch(&self, paths: &[PathBuf]) -> Batch {
        let results: Vec<Result<Vec<f32>, DataError>> =
            paths.par_iter().map(|p| self.load(p)).collect();
        Batch::collect(results, paths, self.image_len())
    }
}

impl Batch {
    /// Assembles per-image results (row-aligned with `paths`) into a batch.
    pub fn collect(
        results: Vec<Result<Vec<f32>, DataError>>,
        paths: &[PathBuf],
        image_len: usize,
    ) -> Self {
        let mut batch = Batch {
            tensor: Vec::with_capacity(paths.len() * image_len),
            ..Batch::default()
        };
        for (i, (r, path)) in results.into_iter().zip(paths).enumerate() {
            match r {
                Ok(t) => {
                    batch.tensor.extend_from_slice(&t);
                    batch.ok.push(i);
                }
                Err(e) => batch.failed.push(Skipped {
                    path: path.clone(),
                    reason: e.to_string(),
                }),
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pre(order: ChannelOrder) -> Preprocessor {
        Preprocessor {
            height: 2,
            width: 2,
            mean: [0.5, 0.25, 0.0],
            std: [0.5, 0.25, 1.0],
            channel_order: order,
        }
    }

    #[test]
    fn normalises_in_channel_order_and_flips() {
        let mut img = RgbImage::new(2, 2);
        img.put_pixel(0, 0, image::Rgb([255, 0, 51]));
        img.put_pixel(1, 0, image::Rgb([0, 255, 102]));
        let mut out = vec![0.0; 12];
        let rgb = pre(ChannelOrder::Rgb);
        rgb.write_chw(&img, &mut out);
        // R plane: (1 − 0.5)/0.5 = 1, (0 − 0.5)/0.5 = −1; G plane: (0 − .25)/.25 = −1, (1 − .25)/.25 = 3.
        assert_eq!(&out[0..2], &[1.0, -1.0]);
        assert_eq!(&out[4..6], &[-1.0, 3.0]);
        assert!((out[8] - 0.2).abs() < 1e-6 && (out[9] - 0.4).abs() < 1e-6);
        rgb.mirror(&mut out);
        assert_eq!(&out[0..2], &[-1.0, 1.0]);
        assert_eq!(&out[4..6], &[3.0, -1.0]);
        pre(ChannelOrder::Bgr).write_chw(&img, &mut out);
        // First plane is now blue, normalised with the first mean/std.
        assert!((out[0] - (0.2 - 0.5) / 0.5).abs() < 1e-6);
    }

    #[test]
    fn metadata_round_trips() {
        let p = pre(ChannelOrder::Bgr);
        let meta = p.to_metadata();
        let get = |k: &str| {
            meta.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(Preprocessor::from_metadata(get), Some(p));
        assert_eq!(Preprocessor::from_metadata(|_| None), None);
    }

    #[test]
    fn corrupt_files_are_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("0001_c1s1_000001_00.png");
        RgbImage::from_pixel(5, 9, image::Rgb([10, 20, 30]))
            .save(&good)
            .unwrap();
        let bad = dir.path().join("0001_c1s1_000002_00.jpg");
        std::fs::write(&bad, b"not a jpeg").unwrap();
        let p = Preprocessor {
            height: 8,
            width: 4,
            ..pre(ChannelOrder::Rgb)
        };
        let batch = p.load_batch(&[bad.clone(), good]);
        assert_eq!(batch.ok, vec![1]);
        assert_eq!(batch.tensor.len(), p.image_len());
        assert_eq!(batch.failed.len(), 1);
        assert_eq!(batch.failed[0].path, bad);
        assert!(
            batch.failed[0].reason.contains("cannot decode"),
            "{}",
            batch.failed[0].reason
        );
    }
}
