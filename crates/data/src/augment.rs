//! Training-time augmentation of the BoT / TAO recipe, on top of the shared pre-processing path
//! (decode → resize → normalise of [`Preprocessor`]): horizontal flip with `dataset.prob`, zero
//! padding by `dataset.padding` and a random crop back to the input size, then random erasing
//! with `dataset.re_prob` on the normalised tensor. Each image's randomness comes from a seed
//! the caller derives from (run seed, epoch, position), so a resumed run sees the same inputs.

use crate::error::DataError;
use crate::preprocess::{Batch, Preprocessor};
use image::RgbImage;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use reid_config::Spec;
use std::path::{Path, PathBuf};

/// Random erasing as in BoT: area fraction in [0.02, 0.4], aspect in [0.3, 1/0.3], filled with
/// these per-channel values (BoT's, written into the normalised tensor).
const ERASE_AREA: (f32, f32) = (0.02, 0.4);
const ERASE_ASPECT: f32 = 0.3;
const ERASE_FILL: [f32; 3] = [0.4914, 0.4822, 0.4465];

/// The augmentation settings plus the pre-processing they wrap.
#[derive(Debug, Clone, PartialEq)]
pub struct Augmenter {
    pub pre: Preprocessor,
    /// Zero padding on every side before the random crop.
    pub padding: u32,
    /// Probability of a horizontal flip.
    pub flip_prob: f32,
    /// Probability of random erasing.
    pub erase_prob: f32,
}

impl Augmenter {
    /// `dataset.padding`, `dataset.prob`, `dataset.re_prob` around the spec's pre-processing.
    pub fn from_spec(spec: &Spec) -> Self {
        Self {
            pre: Preprocessor::from_spec(spec),
            padding: spec.dataset.padding,
            flip_prob: spec.dataset.prob,
            erase_prob: spec.dataset.re_prob,
        }
    }

    /// One augmented CHW tensor of the image at `path`.
    pub fn load(&self, path: &Path, seed: u64) -> Result<Vec<f32>, DataError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let img = self
            .pre
            .resize(&Preprocessor::decode(path)?)
            .map_err(|message| DataError::Decode {
                path: path.to_owned(),
                message,
            })?;
        let mut img = if rng.random::<f32>() < self.flip_prob {
            image::imageops::flip_horizontal(&img)
        } else {
            img
        };
        if self.padding > 0 {
            img = self.pad_and_crop(&img, &mut rng);
        }
        let mut out = vec![0.0; self.pre.image_len()];
        self.pre.write_chw(&img, &mut out);
        if rng.random::<f32>() < self.erase_prob {
            self.erase(&mut out, &mut rng);
        }
        Ok(out)
    }

    /// Augmented batch of `paths` (decoded in parallel on the current rayon pool); image `i`
    /// uses seed `seeds[i]`. Images that cannot be read are left out and reported.
    pub fn load_batch(&self, paths: &[PathBuf], seeds: &[u64]) -> Batch {
        let results: Vec<_> = paths
            .par_iter()
            .zip(seeds)
            .map(|(p, &s)| self.load(p, s))
            .collect();
        Batch::collect(results, paths, self.pre.image_len())
    }

    /// The image shifted by a random offset within the zero-padded frame (pad + random crop).
    fn pad_and_crop(&self, img: &RgbImage, rng: &mut StdRng) -> RgbImage {
        let p = self.padding as i64;
        let (dx, dy) = (rng.random_range(-p..=p), rng.random_range(-p..=p));
        let (w, h) = img.dimensions();
        RgbImage::from_fn(w, h, |x, y| {
            let (sx, sy) = (i64::from(x) + dx, i64::from(y) + dy);
            if (0..i64::from(w)).contains(&sx) && (0..i64::from(h)).contains(&sy) {
                *img.get_pixel(sx as u32, sy as u32)
            } else {
                image::Rgb([0, 0, 0])
            }
        })
    }

    /// Fills one random rectangle of the CHW tensor (up to 100 tries to find one that fits).
    fn erase(&self, chw: &mut [f32], rng: &mut StdRng) {
        let (h, w) = (self.pre.height as usize, self.pre.width as usize);
        let area = (h * w) as f32;
        for _ in 0..100 {
            let target = rng.random_range(ERASE_AREA.0..ERASE_AREA.1) * area;
            let aspect = rng.random_range(ERASE_ASPECT..1.0 / ERASE_ASPECT);
            let eh = (target * aspect).sqrt().round() as usize;
            let ew = (target / aspect).sqrt().round() as usize;
            if eh == 0 || ew == 0 || eh >= h || ew >= w {
                continue;
            }
            let (y0, x0) = (rng.random_range(0..=h - eh), rng.random_range(0..=w - ew));
            for (c, plane) in chw.chunks_exact_mut(h * w).enumerate() {
                for row in plane.chunks_exact_mut(w).skip(y0).take(eh) {
                    row[x0..x0 + ew].fill(ERASE_FILL[c]);
                }
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reid_config::ChannelOrder;

    fn augmenter(padding: u32, flip_prob: f32, erase_prob: f32) -> Augmenter {
        Augmenter {
            pre: Preprocessor {
                height: 16,
                width: 8,
                mean: [0.0; 3],
                std: [1.0; 3],
                channel_order: ChannelOrder::Rgb,
            },
            padding,
            flip_prob,
            erase_prob,
        }
    }

    /// A 8×16 image whose red channel is the column index × 10.
    fn gradient_image(dir: &Path) -> PathBuf {
        let path = dir.join("0001_c1s1_000001_00.png");
        RgbImage::from_fn(8, 16, |x, _| image::Rgb([(x * 10) as u8, 100, 200]))
            .save(&path)
            .unwrap();
        path
    }

    #[test]
    fn without_augmentation_it_is_the_plain_preprocessing() {
        let dir = tempfile::tempdir().unwrap();
        let path = gradient_image(dir.path());
        let a = augmenter(0, 0.0, 0.0);
        assert_eq!(a.load(&path, 1).unwrap(), a.pre.load(&path).unwrap());
    }

    #[test]
    fn flip_mirrors_and_seeds_repeat() {
        let dir = tempfile::tempdir().unwrap();
        let path = gradient_image(dir.path());
        let a = augmenter(0, 1.0, 0.0);
        let mut plain = a.pre.load(&path).unwrap();
        a.pre.mirror(&mut plain);
        assert_eq!(a.load(&path, 1).unwrap(), plain);
        let b = augmenter(4, 0.5, 0.5);
        assert_eq!(b.load(&path, 9).unwrap(), b.load(&path, 9).unwrap());
        let differ = (0..20).any(|s| b.load(&path, s).unwrap() != b.load(&path, 9).unwrap());
        assert!(differ, "different seeds never changed the augmentation");
    }

    #[test]
    fn padding_shifts_by_at_most_the_padding_and_fills_with_black() {
        let dir = tempfile::tempdir().unwrap();
        let path = gradient_image(dir.path());
        let a = augmenter(2, 0.0, 0.0);
        for seed in 0..20 {
            let out = a.load(&path, seed).unwrap();
            // Red plane, first row: either black (padding) or column·10/255 shifted by ≤ 2.
            let row = &out[0..8];
            for (x, &v) in row.iter().enumerate() {
                let src = (v * 255.0).round() as i64 / 10;
                assert!(
                    v == 0.0 || (src - x as i64).abs() <= 2,
                    "seed {seed}: {row:?}"
                );
            }
        }
    }

    #[test]
    fn erasing_fills_one_rectangle_with_the_bot_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = gradient_image(dir.path());
        let a = augmenter(0, 0.0, 1.0);
        let out = a.load(&path, 3).unwrap();
        let plain = a.pre.load(&path).unwrap();
        let changed: Vec<usize> = (0..128).filter(|&i| out[i] != plain[i]).collect();
        assert!(!changed.is_empty());
        assert!(changed.iter().all(|&i| out[i] == ERASE_FILL[0]));
        // The blue plane is erased at the same pixels.
        assert!(changed.iter().all(|&i| out[256 + i] == ERASE_FILL[2]));
    }
}
