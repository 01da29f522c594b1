//! Swin Transformer (Liu et al. 2021) tiny / small / base with 4×4 patches and 7×7 windows, as
//! TAO ReIdentificationNet Transformer (after SOLIDER-REID) uses it for ReID at 384×128: feature
//! maps padded at the bottom/right to whole windows, windows shifted by 3 every second block
//! (with the attention mask of the shifted regions), 2×2 patch merging, stochastic depth up to
//! [`DROP_PATH_RATE`] in training, and a final LayerNorm; the output is an NCHW map for the
//! BNNeck head. Parameter names are those of the original (microsoft/Swin-Transformer) state
//! dict, so its weights load by name ([`torchvision_key`]).

use burn::module::Param;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::ops::PadMode;
use burn::tensor::{Distribution, Int};
use reid_config::BackboneKind;

/// Side of the square attention windows.
pub const WINDOW: usize = 7;
/// Side of the square patches of the patch embedding.
pub const PATCH: usize = 4;
/// LayerNorm epsilon (PyTorch's default, which Swin uses).
pub const LN_EPS: f64 = 1e-5;
/// Stochastic depth of the last block (linearly from 0 at the first), as SOLIDER trains.
pub const DROP_PATH_RATE: f64 = 0.1;
/// Added to the attention logits of token pairs from different regions of a shifted window.
pub const MASK_VALUE: f32 = -100.0;

/// Width and depth of a Swin variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwinSize {
    pub embed_dim: usize,
    pub depths: [usize; 4],
    pub heads: [usize; 4],
}

impl SwinSize {
    /// Channels of the output map (8 × the embedding width).
    pub fn channels(&self) -> usize {
        self.embed_dim * 8
    }
}

/// The sizes of a Swin `kind` (Swin-T for every other kind).
pub fn size(kind: BackboneKind) -> SwinSize {
    let (embed_dim, depths, heads) = match kind {
        BackboneKind::SwinSmall => (96, [2, 2, 18, 2], [3, 6, 12, 24]),
        BackboneKind::SwinBase => (128, [2, 2, 18, 2], [4, 8, 16, 32]),
        _ => (96, [2, 2, 6, 2], [3, 6, 12, 24]),
    };
    SwinSize {
        embed_dim,
        depths,
        heads,
    }
}

fn linear(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Linear {
    LinearConfig::new(d_in, d_out)
        .with_bias(bias)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: 0.02,
        })
        .init(device)
}

fn layer_norm(d: usize, device: &Device) -> LayerNorm {
    LayerNormConfig::new(d).with_epsilon(LN_EPS).init(device)
}

/// Rounds `n` up to a multiple of `m`.
pub fn padded(n: usize, m: usize) -> usize {
    n.div_ceil(m) * m
}

/// Zero padding at the end of axes `first` and `first + 1` (height and width) by `amounts`.
fn pad_end(x: Tensor<4>, first: usize, amounts: [usize; 2]) -> Tensor<4> {
    if amounts == [0, 0] {
        return x;
    }
    let mut pads = [(0, 0); 4];
    pads[first] = (0, amounts[0]);
    pads[first + 1] = (0, amounts[1]);
    x.pad(pads, PadMode::Constant(0.0))
}

/// The 4×4 / stride 4 convolution that cuts the image into patch embeddings, then LayerNorm.
#[derive(Module, Debug)]
pub struct PatchEmbed {
    pub proj: Conv2d,
    pub norm: LayerNorm,
}

/// Multi-head self-attention inside windows with a learned relative position bias.
#[derive(Module, Debug)]
pub struct WindowAttention {
    pub qkv: Linear,
    pub proj: Linear,
    /// `[(2·WINDOW − 1)², heads]`, indexed by [`relative_position_index`].
    pub relative_position_bias_table: Param<Tensor<2>>,
    pub heads: usize,
}

/// For every pair (i, j) of the WINDOW² tokens of a window (row-major), the row of the bias table
/// that holds their relative offset.
pub fn relative_position_index() -> Vec<i64> {
    let n = WINDOW * WINDOW;
    let side = 2 * WINDOW as i64 - 1;
    let mut index = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            let dy = (i / WINDOW) as i64 - (j / WINDOW) as i64 + WINDOW as i64 - 1;
            let dx = (i % WINDOW) as i64 - (j % WINDOW) as i64 + WINDOW as i64 - 1;
            index.push(dy * side + dx);
        }
    }
    index
}

impl WindowAttention {
    fn new(dim: usize, heads: usize, device: &Device) -> Self {
        let side = 2 * WINDOW - 1;
        Self {
            qkv: linear(dim, 3 * dim, true, device),
            proj: linear(dim, dim, true, device),
            relative_position_bias_table: Initializer::Normal {
                mean: 0.0,
                std: 0.02,
            }
            .init([side * side, heads], device),
            heads,
        }
    }

    /// The bias added to every window's attention logits, `[heads, N, N]` (N = WINDOW²).
    pub fn position_bias(&self) -> Tensor<3> {
        let n = WINDOW * WINDOW;
        let table = self.relative_position_bias_table.val();
        let index = relative_position_index();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [n * n]), &table.device());
        table
            .select(0, index)
            .reshape([n, n, self.heads])
            .permute([2, 0, 1])
    }

    /// Attention within windows `x: [windows·batch, N, C]`; `mask: [windows, N, N]` for shifted
    /// windows (`windows` per image).
    fn forward(&self, x: Tensor<3>, mask: Option<Tensor<3>>) -> Tensor<3> {
        let [bw, n, c] = x.dims();
        let d = c / self.heads;
        let qkv = self.qkv.forward(x);
        let part = |i: usize| {
            qkv.clone()
                .narrow(2, i * c, c)
                .reshape([bw, n, self.heads, d])
                .swap_dims(1, 2)
        };
        let q = part(0) * (d as f64).powf(-0.5);
        let logits = q.matmul(part(1).swap_dims(2, 3)) + self.position_bias().unsqueeze::<4>();
        let logits = match mask {
            Some(mask) => {
                let windows = mask.dims()[0];
                let masked: Tensor<5> = logits.reshape([bw / windows, windows, self.heads, n, n])
                    + mask.unsqueeze_dims::<5>(&[0, 2]);
                masked.reshape([bw, self.heads, n, n])
            }
            None => logits,
        };
        let y = softmax(logits, 3).matmul(part(2));
        self.proj.forward(y.swap_dims(1, 2).reshape([bw, n, c]))
    }
}

/// The attention mask of shifted windows over a padded `hp × wp` map: 0 between tokens of the
/// same region before the cyclic shift, [`MASK_VALUE`] otherwise; `[windows, N, N]` row-major.
pub fn shift_mask(hp: usize, wp: usize, shift: usize) -> Vec<f32> {
    let region = |x: usize, size: usize| {
        if x < size - WINDOW {
            0
        } else if x < size - shift {
            1
        } else {
            2
        }
    };
    let n = WINDOW * WINDOW;
    let mut mask = Vec::with_capacity((hp / WINDOW) * (wp / WINDOW) * n * n);
    for wy in 0..hp / WINDOW {
        for wx in 0..wp / WINDOW {
            let ids: Vec<usize> = (0..n)
                .map(|t| {
                    let (y, x) = (wy * WINDOW + t / WINDOW, wx * WINDOW + t % WINDOW);
                    region(y, hp) * 3 + region(x, wp)
                })
                .collect();
            for a in &ids {
                for b in &ids {
                    mask.push(if a == b { 0.0 } else { MASK_VALUE });
                }
            }
        }
    }
    mask
}

/// Linear → GELU → linear, 4× wide.
#[derive(Module, Debug)]
pub struct Mlp {
    pub fc1: Linear,
    pub fc2: Linear,
}

/// Pre-norm transformer block: (shifted) window attention, then the MLP, both residual.
#[derive(Module, Debug)]
pub struct SwinBlock {
    pub norm1: LayerNorm,
    pub attn: WindowAttention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
    /// Cyclic shift of the windows (0 or WINDOW / 2).
    pub shift: usize,
    pub drop_path: f64,
}

/// Zeroes whole samples of a residual branch with probability `p` in training (and rescales the
/// rest); the identity on a device without autodiff.
fn drop_path(x: Tensor<4>, p: f64) -> Tensor<4> {
    if p == 0.0 || !x.device().is_autodiff() {
        return x;
    }
    let keep = Tensor::<4>::random(
        [x.dims()[0], 1, 1, 1],
        Distribution::Bernoulli(1.0 - p),
        &x.device(),
    );
    x * keep / (1.0 - p)
}

impl SwinBlock {
    /// `x: [batch, H, W, C]` → same shape.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = self.window_attention(self.norm1.forward(x.clone()));
        let x = x + drop_path(y, self.drop_path);
        let y = self.norm2.forward(x.clone());
        let y = self.mlp.fc2.forward(gelu(self.mlp.fc1.forward(y)));
        x + drop_path(y, self.drop_path)
    }

    fn window_attention(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, w, c] = x.dims();
        let (hp, wp) = (padded(h, WINDOW), padded(w, WINDOW));
        let mut x = pad_end(x, 1, [hp - h, wp - w]);
        let s = self.shift as i64;
        if s > 0 {
            x = x.roll(&[-s, -s], &[1, 2]);
        }
        let (nh, nw) = (hp / WINDOW, wp / WINDOW);
        let windows = x
            .reshape([b, nh, WINDOW, nw, WINDOW, c])
            .permute([0, 1, 3, 2, 4, 5])
            .reshape([b * nh * nw, WINDOW * WINDOW, c]);
        let mask = (s > 0).then(|| {
            let n = WINDOW * WINDOW;
            Tensor::<3>::from_data(
                TensorData::new(shift_mask(hp, wp, self.shift), [nh * nw, n, n]),
                &windows.device(),
            )
        });
        let mut x = self
            .attn
            .forward(windows, mask)
            .reshape([b, nh, nw, WINDOW, WINDOW, c])
            .permute([0, 1, 3, 2, 4, 5])
            .reshape([b, hp, wp, c]);
        if s > 0 {
            x = x.roll(&[s, s], &[1, 2]);
        }
        if (hp, wp) != (h, w) {
            x = x.slice([0..b, 0..h, 0..w, 0..c]);
        }
        x
    }
}

/// 2×2 neighbourhoods concatenated (original Swin order: (0,0), (1,0), (0,1), (1,1) as (row,
/// column) offsets) → LayerNorm → linear 4C → 2C: half the resolution, twice the width.
#[derive(Module, Debug)]
pub struct PatchMerging {
    pub norm: LayerNorm,
    pub reduction: Linear,
}

impl PatchMerging {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.reduction.forward(self.norm.forward(neighbours(x)))
    }
}

/// `[batch, H, W, C]` → `[batch, ⌈H/2⌉, ⌈W/2⌉, 4C]`: each 2×2 neighbourhood's tokens side by
/// side in the original order (zero padding at the bottom/right of odd sizes).
pub fn neighbours(x: Tensor<4>) -> Tensor<4> {
    let [b, h, w, c] = x.dims();
    let (hp, wp) = (padded(h, 2), padded(w, 2));
    let x = pad_end(x, 1, [hp - h, wp - w]);
    x.reshape([b, hp / 2, 2, wp / 2, 2, c])
        .permute([0, 1, 3, 4, 2, 5])
        .reshape([b, hp / 2, wp / 2, 4 * c])
}

/// Blocks at one resolution, then (except in the last stage) patch merging.
#[derive(Module, Debug)]
pub struct Stage {
    pub blocks: Vec<SwinBlock>,
    pub downsample: Option<PatchMerging>,
}

/// The backbone.
#[derive(Module, Debug)]
pub struct Swin {
    pub patch_embed: PatchEmbed,
    pub layers: Vec<Stage>,
    pub norm: LayerNorm,
}

impl Swin {
    pub fn new(size: SwinSize, device: &Device) -> Self {
        let total: usize = size.depths.iter().sum();
        let mut block_index = 0;
        let layers = (0..4)
            .map(|stage| {
                let dim = size.embed_dim << stage;
                let blocks = (0..size.depths[stage])
                    .map(|i| {
                        let drop_path =
                            DROP_PATH_RATE * block_index as f64 / (total - 1).max(1) as f64;
                        block_index += 1;
                        SwinBlock {
                            norm1: layer_norm(dim, device),
                            attn: WindowAttention::new(dim, size.heads[stage], device),
                            norm2: layer_norm(dim, device),
                            mlp: Mlp {
                                fc1: linear(dim, 4 * dim, true, device),
                                fc2: linear(4 * dim, dim, true, device),
                            },
                            shift: if i % 2 == 1 { WINDOW / 2 } else { 0 },
                            drop_path,
                        }
                    })
                    .collect();
                Stage {
                    blocks,
                    downsample: (stage < 3).then(|| PatchMerging {
                        norm: layer_norm(4 * dim, device),
                        reduction: linear(4 * dim, 2 * dim, false, device),
                    }),
                }
            })
            .collect();
        Self {
            patch_embed: PatchEmbed {
                proj: Conv2dConfig::new([3, size.embed_dim], [PATCH, PATCH])
                    .with_stride([PATCH, PATCH])
                    .init(device),
                norm: layer_norm(size.embed_dim, device),
            },
            layers,
            norm: layer_norm(size.channels(), device),
        }
    }

    /// `x: [batch, 3, H, W]` → `[batch, 8·embed_dim, ⌈H/32⌉, ⌈W/32⌉]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        let (hp, wp) = (padded(h, PATCH), padded(w, PATCH));
        let x = pad_end(x, 2, [hp - h, wp - w]);
        let e = &self.patch_embed;
        let mut x = e.norm.forward(e.proj.forward(x).permute([0, 2, 3, 1]));
        for stage in &self.layers {
            for block in &stage.blocks {
                x = block.forward(x);
            }
            if let Some(merge) = &stage.downsample {
                x = merge.forward(x);
            }
        }
        self.norm.forward(x).permute([0, 3, 1, 2])
    }
}

/// The Burn path of a Swin parameter named as in torchvision's `swin_t/s/b` state dicts
/// (`features.3.1.mlp.0.weight` → `layers.1.blocks.1.mlp.fc1.weight`) or in the original
/// implementation's (`layers.1.blocks.1.mlp.fc1.weight`: the same path); None for buffers and
/// classifier heads. LayerNorm and Linear layouts are adapted on load.
pub fn torchvision_key(name: &str) -> Option<String> {
    if name.starts_with("head.")
        || name.ends_with("relative_position_index")
        || name.ends_with("attn_mask")
    {
        return None;
    }
    let Some(rest) = name.strip_prefix("features.") else {
        return Some(name.to_owned());
    };
    let (index, rest) = rest.split_once('.')?;
    let index: usize = index.parse().ok()?;
    if index == 0 {
        let (layer, leaf) = rest.split_once('.')?;
        let module = match layer {
            "0" => "proj",
            "2" => "norm",
            _ => return None,
        };
        return Some(format!("patch_embed.{module}.{leaf}"));
    }
    // Odd indices are the stages' blocks, even ones the patch merging after them.
    let stage = (index - 1) / 2;
    if index.is_multiple_of(2) {
        return Some(format!("layers.{stage}.downsample.{rest}"));
    }
    let (block, part) = rest.split_once('.')?;
    let part = match part.split_once('.') {
        Some(("mlp", leaf)) => {
            let (layer, leaf) = leaf.split_once('.')?;
            let fc = match layer {
                "0" => "fc1",
                "3" => "fc2",
                _ => return None,
            };
            format!("mlp.{fc}.{leaf}")
        }
        _ => part.to_owned(),
    };
    Some(format!("layers.{stage}.blocks.{block}.{part}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_have_the_published_widths() {
        assert_eq!(size(BackboneKind::SwinTiny).channels(), 768);
        assert_eq!(size(BackboneKind::SwinSmall).depths, [2, 2, 18, 2]);
        assert_eq!(size(BackboneKind::SwinBase).channels(), 1024);
    }

    #[test]
    fn torchvision_and_original_names_map_to_burn_paths() {
        for (name, path) in [
            ("features.0.0.weight", Some("patch_embed.proj.weight")),
            ("features.0.2.bias", Some("patch_embed.norm.bias")),
            (
                "features.3.1.mlp.0.weight",
                Some("layers.1.blocks.1.mlp.fc1.weight"),
            ),
            (
                "features.7.0.mlp.3.bias",
                Some("layers.3.blocks.0.mlp.fc2.bias"),
            ),
            (
                "features.1.0.attn.relative_position_bias_table",
                Some("layers.0.blocks.0.attn.relative_position_bias_table"),
            ),
            (
                "features.4.reduction.weight",
                Some("layers.1.downsample.reduction.weight"),
            ),
            ("norm.weight", Some("norm.weight")),
            (
                "layers.2.blocks.5.attn.qkv.bias",
                Some("layers.2.blocks.5.attn.qkv.bias"),
            ),
            ("features.1.0.attn.relative_position_index", None),
            ("head.weight", None),
        ] {
            assert_eq!(torchvision_key(name).as_deref(), path, "{name}");
        }
    }

    #[test]
    fn relative_positions_index_the_offset_table() {
        let index = relative_position_index();
        let n = WINDOW * WINDOW;
        // Same token: offset (0, 0) is the centre row of the 13 × 13 table.
        assert_eq!(index[0], 6 * 13 + 6);
        // Token 0 is (0,0), token n-1 is (6,6): offset (-6,-6) → row 0; the reverse → the last.
        assert_eq!(index[n - 1], 0);
        assert_eq!(index[(n - 1) * n], 13 * 13 - 1);
        // Token 1 is (0,1): relative to token 0 it is (0,-1) → (6, 5).
        assert_eq!(index[1], 6 * 13 + 5);
    }

    #[test]
    fn the_shift_mask_separates_wrapped_regions() {
        // A 14 × 7 map: two windows stacked; shift 3.
        let mask = shift_mask(14, 7, 3);
        let n = WINDOW * WINDOW;
        assert_eq!(mask.len(), 2 * n * n);
        let at = |w: usize, a: (usize, usize), b: (usize, usize)| {
            mask[w * n * n + (a.0 * WINDOW + a.1) * n + b.0 * WINDOW + b.1]
        };
        // First window: rows 0..7 are one region vertically; columns 0..4 vs 4..7 differ.
        assert_eq!(at(0, (0, 0), (6, 3)), 0.0);
        assert_eq!(at(0, (0, 0), (0, 4)), MASK_VALUE);
        // Second window: rows 7..11 vs 11..14 differ.
        assert_eq!(at(1, (0, 0), (3, 0)), 0.0);
        assert_eq!(at(1, (0, 0), (4, 0)), MASK_VALUE);
        assert_eq!(at(1, (4, 5), (6, 6)), 0.0);
    }

    #[test]
    fn roll_moves_elements_like_torch_roll() {
        let device = Device::flex();
        let x = Tensor::<1>::from_floats([0.0, 1.0, 2.0, 3.0, 4.0], &device);
        let y = x
            .roll(&[-2i64], &[0])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(y, vec![2.0, 3.0, 4.0, 0.0, 1.0]);
    }

    #[test]
    fn patch_merging_takes_the_original_neighbour_order() {
        let device = Device::flex();
        // One channel holding 10·row + column on a 3 × 2 map (the odd height is padded).
        let x = Tensor::<1>::from_floats([0.0, 1.0, 10.0, 11.0, 20.0, 21.0], &device)
            .reshape([1, 3, 2, 1]);
        let cat = neighbours(x);
        assert_eq!(cat.dims(), [1, 2, 1, 4]);
        // (0,0), (1,0), (0,1), (1,1) as (row, column) offsets.
        let values = cat.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values, vec![0.0, 10.0, 1.0, 11.0, 20.0, 0.0, 21.0, 0.0]);
    }

    #[test]
    fn attention_stays_inside_windows_unless_shifted() {
        let device = Device::flex();
        let block = |shift| SwinBlock {
            norm1: layer_norm(4, &device),
            attn: WindowAttention::new(4, 2, &device),
            norm2: layer_norm(4, &device),
            mlp: Mlp {
                fc1: linear(4, 16, true, &device),
                fc2: linear(16, 4, true, &device),
            },
            shift,
            drop_path: 0.0,
        };
        // A 14 × 7 map (two windows); change one token of the first window.
        let x = Tensor::<4>::random([1, 14, 7, 4], Distribution::Normal(0.0, 1.0), &device);
        let mut changed = x.clone().into_data().try_to_vec::<f32>().unwrap();
        // Not a constant shift: LayerNorm would cancel that.
        for (v, d) in changed.iter_mut().zip([1.0, -2.0, 3.0, 0.5]) {
            *v += d;
        }
        let x2 = Tensor::<4>::from_data(TensorData::new(changed, [1, 14, 7, 4]), &device);
        let rows_changed = |b: &SwinBlock| {
            let d = (b.forward(x.clone()) - b.forward(x2.clone()))
                .abs()
                .sum_dims(&[2, 3]);
            let d = d.into_data().try_to_vec::<f32>().unwrap();
            d.iter().map(|v| *v > 1e-6).collect::<Vec<bool>>()
        };
        let plain = rows_changed(&block(0));
        assert!(plain[..7].iter().all(|c| *c), "{plain:?}");
        assert!(!plain[7..].iter().any(|c| *c), "{plain:?}");
        // Shifted by 3, token (0,0) lands at (11,4) in the corner window, where the mask keeps
        // it with the tokens that were rows 0..3 × columns 0..3; without the mask, rows 10..14
        // (in the same window after the roll) would see it too.
        let shifted = rows_changed(&block(3));
        assert!(shifted[..3].iter().all(|c| *c), "{shifted:?}");
        assert!(!shifted[3..].iter().any(|c| *c), "{shifted:?}");
    }

    #[test]
    fn shapes_and_padding_at_reid_input_sizes() {
        let device = Device::flex();
        let small = SwinSize {
            embed_dim: 8,
            depths: [2, 2, 2, 2],
            heads: [1, 2, 2, 4],
        };
        let net = Swin::new(small, &device);
        for (h, w) in [(64usize, 32usize), (96, 40)] {
            let out = net.forward(Tensor::zeros([2, 3, h, w], &device));
            assert_eq!(
                out.dims(),
                [2, 64, h.div_ceil(32), w.div_ceil(32)],
                "{h}×{w}"
            );
        }
    }
}
