//! Convolution gradients on the CPU by blocked GEMM over im2col / col2im, parallel over
//! samples: `dW = Σₙ dYₙ · im2col(xₙ)ᵀ` and `dXₙ = col2im(Wᵀ · dYₙ)`. `f32` convolutions
//! without groups; [`Geometry::of`] says which.

use crate::flex::{contiguous, gemm_f32, slice, tensor};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ConvOptions;
use burn::tensor::DType;
use rayon::prelude::*;
use std::borrow::Cow;

/// Columns (output positions × samples) a weight-gradient GEMM gets at least, so that layers
/// with small feature maps still make long GEMMs.
const MIN_GEMM_DEPTH: usize = 1024;

/// Sizes of one convolution: input `[n, c, h, w]`, weight `[o, c, kh, kw]`, output
/// `[n, o, oh, ow]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: [usize; 2],
}

impl Geometry {
    /// The geometry when the GEMM kernels cover this convolution (`f32`, no groups).
    pub(crate) fn of(
        x: &FlexTensor,
        weight: &FlexTensor,
        output_grad: &FlexTensor,
        options: &ConvOptions<2>,
    ) -> Option<Self> {
        let f32s = [x, weight, output_grad]
            .iter()
            .all(|t| t.dtype() == DType::F32);
        if !f32s || options.groups != 1 {
            return None;
        }
        let (xs, ws, ys) = (
            x.layout().shape(),
            weight.layout().shape(),
            output_grad.layout().shape(),
        );
        Some(Self {
            n: xs[0],
            c: xs[1],
            h: xs[2],
            w: xs[3],
            o: ws[0],
            kh: ws[2],
            kw: ws[3],
            oh: ys[2],
            ow: ys[3],
            stride: options.stride,
            dilation: options.dilation,
            pad: options.padding_begin(),
        })
    }

    /// Rows of the im2col matrix: `c · kh · kw`.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output positions per sample: `oh · ow`.
    fn l(&self) -> usize {
        self.oh * self.ow
    }

    /// A 1×1 convolution with stride 1 and no padding: its im2col matrix is the input itself.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == [1, 1] && self.pad == [0, 0]
    }

    /// For kernel offset `i` along one axis: the output range whose input index
    /// `out · stride + i · dilation − pad` falls inside `0..size`, and that index's value at
    /// the range start.
    fn valid(&self, axis: usize, i: usize, size: usize, out: usize) -> (usize, usize) {
        let (s, offset) = (self.stride[axis], i * self.dilation[axis]);
        let pad = self.pad[axis];
        let first = pad.saturating_sub(offset).div_ceil(s);
        // Last output index o with o·s + offset − pad ≤ size − 1.
        let end = if size + pad > offset {
            ((size + pad - offset - 1) / s + 1).min(out)
        } else {
            0
        };
        (first.min(end), end)
    }

    /// Writes sample `xn` (`[c, h, w]`) as im2col rows (`[c·kh·kw, oh·ow]`) into `col` at
    /// column offset `col_offset` of rows `row_len` long; padding gives zeros.
    fn im2col(&self, xn: &[f32], col: &mut [f32], row_len: usize, col_offset: usize) {
        let l = self.l();
        for ci in 0..self.c {
            let plane = &xn[ci * self.h * self.w..(ci + 1) * self.h * self.w];
            for i in 0..self.kh {
                let (oh0, oh1) = self.valid(0, i, self.h, self.oh);
                for j in 0..self.kw {
                    let (ow0, ow1) = self.valid(1, j, self.w, self.ow);
                    let row = (ci * self.kh + i) * self.kw + j;
                    let dst = &mut col[row * row_len + col_offset..][..l];
                    dst.fill(0.0);
                    for oy in oh0..oh1 {
                        let iy = oy * self.stride[0] + i * self.dilation[0] - self.pad[0];
                        let src = &plane[iy * self.w..(iy + 1) * self.w];
                        let out = &mut dst[oy * self.ow..(oy + 1) * self.ow];
                        let ix0 = ow0 * self.stride[1] + j * self.dilation[1] - self.pad[1];
                        if self.stride[1] == 1 {
                            out[ow0..ow1].copy_from_slice(&src[ix0..ix0 + (ow1 - ow0)]);
                        } else {
                            for (k, v) in out[ow0..ow1].iter_mut().enumerate() {
                                *v = src[ix0 + k * self.stride[1]];
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds im2col rows `col` (`[c·kh·kw, oh·ow]`) back onto their input positions in `xn`
    /// (`[c, h, w]`, zeroed by the caller): the transpose of [`Self::im2col`].
    fn col2im(&self, col: &[f32], xn: &mut [f32]) {
        let l = self.l();
        for ci in 0..self.c {
            let plane = &mut xn[ci * self.h * self.w..(ci + 1) * self.h * self.w];
            for i in 0..self.kh {
                let (oh0, oh1) = self.valid(0, i, self.h, self.oh);
                for j in 0..self.kw {
                    let (ow0, ow1) = self.valid(1, j, self.w, self.ow);
                    let row = (ci * self.kh + i) * self.kw + j;
                    let src = &col[row * l..(row + 1) * l];
                    for oy in oh0..oh1 {
                        let iy = oy * self.stride[0] + i * self.dilation[0] - self.pad[0];
                        let dst = &mut plane[iy * self.w..(iy + 1) * self.w];
                        let vals = &src[oy * self.ow + ow0..oy * self.ow + ow1];
                        let ix0 = ow0 * self.stride[1] + j * self.dilation[1] - self.pad[1];
                        if self.stride[1] == 1 {
                            for (d, v) in dst[ix0..ix0 + vals.len()].iter_mut().zip(vals) {
                                *d += v;
                            }
                        } else {
                            for (k, v) in vals.iter().enumerate() {
                                dst[ix0 + k * self.stride[1]] += v;
                            }
                        }
                    }
                }
            }
        }
    }

    /// `dW = Σₙ dYₙ · im2col(xₙ)ᵀ`, `[o, c, kh, kw]`. Samples are packed side by side so each
    /// GEMM is at least [`MIN_GEMM_DEPTH`] deep; groups of samples run in parallel, each into
    /// its own accumulator.
    pub(crate) fn weight_grad(&self, x: &FlexTensor, output_grad: &FlexTensor) -> FlexTensor {
        let (x, dy) = (contiguous(x), contiguous(output_grad));
        let (x, dy) = (slice(&x), slice(&dy));
        let (k, l, o) = (self.k(), self.l(), self.o);
        let per_gemm = MIN_GEMM_DEPTH
            .div_ceil(l.max(1))
            .clamp(1, self.n.div_ceil(2).max(1));
        let chunks: Vec<(usize, usize)> = (0..self.n)
            .step_by(per_gemm)
            .map(|s| (s, (s + per_gemm).min(self.n)))
            .collect();
        let in_len = self.c * self.h * self.w;
        let dw = chunks
            .par_iter()
            .fold(
                || vec![0.0f32; o * k],
                |mut acc, &(first, end)| {
                    let depth = (end - first) * l;
                    let (dys, cols) = if end - first == 1 && self.is_pointwise() {
                        // One sample of a pointwise convolution: dYₙ and xₙ are the operands.
                        let (dyn_, xn) = (
                            &dy[first * o * l..][..o * l],
                            &x[first * in_len..][..in_len],
                        );
                        (Cow::Borrowed(dyn_), Cow::Borrowed(xn))
                    } else {
                        let mut dys = vec![0.0f32; o * depth];
                        let mut cols = vec![0.0f32; k * depth];
                        for (slot, s) in (first..end).enumerate() {
                            let dyn_ = &dy[s * o * l..(s + 1) * o * l];
                            for oc in 0..o {
                                dys[oc * depth + slot * l..][..l]
                                    .copy_from_slice(&dyn_[oc * l..(oc + 1) * l]);
                            }
                            let xn = &x[s * in_len..(s + 1) * in_len];
                            self.im2col(xn, &mut cols, depth, slot * l);
                        }
                        (Cow::Owned(dys), Cow::Owned(cols))
                    };
                    // acc[o, k] += dys[o, depth] · cols[k, depth]ᵀ
                    gemm_f32(
                        &mut acc,
                        [o, k, depth],
                        (&dys, depth as isize, 1),
                        (&cols, 1, depth as isize),
                        true,
                    );
                    acc
                },
            )
            .reduce_with(|mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            })
            .unwrap_or_else(|| vec![0.0f32; o * k]);
        tensor(dw, [o, self.c, self.kh, self.kw])
    }

    /// `dXₙ = col2im(Wᵀ · dYₙ)`, `[n, c, h, w]`, one sample per task; a pointwise convolution
    /// writes the GEMM straight into `dXₙ`.
    pub(crate) fn input_grad(&self, weight: &FlexTensor, output_grad: &FlexTensor) -> FlexTensor {
        let (wt, dy) = (contiguous(weight), contiguous(output_grad));
        let (wt, dy) = (slice(&wt), slice(&dy));
        let (k, l, o) = (self.k(), self.l(), self.o);
        let in_len = self.c * self.h * self.w;
        let mut dx = vec![0.0f32; self.n * in_len];
        dx.par_chunks_mut(in_len.max(1))
            .enumerate()
            .for_each(|(s, dxn)| {
                let dyn_ = &dy[s * o * l..(s + 1) * o * l];
                // Wᵀ[k, o]: element (r, oc) at wt[oc · k + r].
                let lhs = (wt, 1, k as isize);
                let rhs = (dyn_, l as isize, 1);
                if self.is_pointwise() {
                    gemm_f32(dxn, [k, l, o], lhs, rhs, false);
                } else {
                    let mut col = vec![0.0f32; k * l];
                    gemm_f32(&mut col, [k, l, o], lhs, rhs, false);
                    self.col2im(&col, dxn);
                }
            });
        tensor(dx, [self.n, self.c, self.h, self.w])
    }
}
