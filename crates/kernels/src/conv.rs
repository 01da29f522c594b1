//! Convolution and its gradients on the CPU by blocked GEMM over im2col / col2im, parallel over
//! samples: `yₙ = W · im2col(xₙ)`, `dW = Σₙ dYₙ · im2col(xₙ)ᵀ` and `dXₙ = col2im(Wᵀ · dYₙ)`;
//! depthwise gradients plane by plane ([`depthwise`]). `f32` only; [`Geometry::of`] says which convolutions.

mod depthwise;

use crate::flex::{contiguous, gemm_f32, slice, tensor};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::ConvOptions;
use burn::tensor::DType;
use gemm::Parallelism;
use rayon::prelude::*;
use std::cell::Cell;
use std::ops::Range;

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
    /// One filter per channel (`groups = c = o`), computed plane by plane instead of by GEMM.
    depthwise: bool,
}

/// One kernel tap's pass over one output row: output columns `out` of row `oy` read input row
/// `iy` from column `ix0` on, every `stride[1]` columns.
struct Run {
    tap: usize,
    oy: usize,
    out: Range<usize>,
    iy: usize,
    ix0: usize,
}

impl Geometry {
    /// The geometry when these kernels cover this convolution (`f32`; no groups, or
    /// depthwise); the output size is `output_grad`'s or, in the forward pass, computed.
    pub(crate) fn of(
        x: &FlexTensor,
        weight: &FlexTensor,
        output_grad: Option<&FlexTensor>,
        options: &ConvOptions<2>,
    ) -> Option<Self> {
        let f32s = [Some(x), Some(weight), output_grad]
            .into_iter()
            .flatten()
            .all(|t| t.dtype() == DType::F32);
        let (xs, ws) = (x.layout().shape(), weight.layout().shape());
        if !f32s || xs.num_dims() != 4 || ws.num_dims() != 4 {
            return None;
        }
        let depthwise = options.groups > 1 && options.groups == xs[1] && ws[0] == xs[1];
        if options.groups != 1 && !depthwise {
            return None;
        }
        let [oh, ow] = match output_grad {
            Some(g) => [g.layout().shape()[2], g.layout().shape()[3]],
            None => {
                let size = |axis: usize| {
                    let (begin, end) = options.padding[axis];
                    let reach = options.dilation[axis] * (ws[2 + axis] - 1) + 1;
                    (xs[2 + axis] + begin + end)
                        .checked_sub(reach)
                        .map(|span| span / options.stride[axis] + 1)
                };
                [size(0)?, size(1)?]
            }
        };
        Some(Self {
            n: xs[0],
            c: xs[1],
            h: xs[2],
            w: xs[3],
            o: ws[0],
            kh: ws[2],
            kw: ws[3],
            oh,
            ow,
            stride: options.stride,
            dilation: options.dilation,
            pad: options.padding_begin(),
            depthwise,
        })
    }

    /// How each GEMM parallelises: samples run in parallel when there are enough of them for
    /// every thread, otherwise each GEMM uses all threads (inference at batch 1).
    fn gemm_threads(&self) -> Parallelism {
        if self.n >= rayon::current_num_threads() {
            Parallelism::None
        } else {
            Parallelism::Rayon(0)
        }
    }

    /// One filter per input channel.
    pub(crate) fn is_depthwise(&self) -> bool {
        self.depthwise
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
    /// `out · stride + i · dilation − pad` falls inside `0..size`.
    fn valid(&self, axis: usize, i: usize, size: usize, out: usize) -> Range<usize> {
        let (s, offset) = (self.stride[axis], i * self.dilation[axis]);
        let pad = self.pad[axis];
        let first = pad.saturating_sub(offset).div_ceil(s);
        // Last output index o with o·s + offset − pad ≤ size − 1.
        let end = if size + pad > offset {
            ((size + pad - offset - 1) / s + 1).min(out)
        } else {
            0
        };
        first.min(end)..end
    }

    /// Calls `f` with every [`Run`] of every tap over one plane, tap by tap; padding is what
    /// they skip. (Plain loops: the rows are short, so per-run overhead counts.)
    fn for_each_run(&self, mut f: impl FnMut(&Run)) {
        for i in 0..self.kh {
            let rows = self.valid(0, i, self.h, self.oh);
            for j in 0..self.kw {
                let out = self.valid(1, j, self.w, self.ow);
                let ix0 = out.start * self.stride[1] + j * self.dilation[1] - self.pad[1];
                for oy in rows.clone() {
                    f(&Run {
                        tap: i * self.kw + j,
                        oy,
                        out: out.clone(),
                        iy: oy * self.stride[0] + i * self.dilation[0] - self.pad[0],
                        ix0,
                    });
                }
            }
        }
    }

    /// `f(out[k], row[ix0 + k · stride])` for each output column `k` of a [`Run`]; stride 1
    /// walks plain slices so the loop vectorises.
    fn gather(&self, out: &mut [f32], row: &[f32], run: &Run, f: impl Fn(&mut f32, f32)) {
        let stride = self.stride[1];
        if stride == 1 {
            let src = &row[run.ix0..][..out.len()];
            out.iter_mut().zip(src).for_each(|(d, &v)| f(d, v));
        } else {
            let src = row[run.ix0..].iter().step_by(stride);
            out.iter_mut().zip(src).for_each(|(d, &v)| f(d, v));
        }
    }

    /// `f(row[ix0 + k · stride], vals[k])` for each output column `k` of a [`Run`].
    fn scatter(&self, row: &mut [f32], vals: &[f32], run: &Run, f: impl Fn(&mut f32, f32)) {
        let stride = self.stride[1];
        if stride == 1 {
            let dst = &mut row[run.ix0..][..vals.len()];
            dst.iter_mut().zip(vals).for_each(|(d, &v)| f(d, v));
        } else {
            let dst = row[run.ix0..].iter_mut().step_by(stride);
            dst.zip(vals).for_each(|(d, &v)| f(d, v));
        }
    }

    /// Output row `run.oy`'s columns `run.out` within an output plane `[oh, ow]`.
    fn out_range(&self, run: &Run) -> Range<usize> {
        run.oy * self.ow + run.out.start..run.oy * self.ow + run.out.end
    }

    /// Writes sample `xn` (`[c, h, w]`) as im2col rows (`[c·kh·kw, oh·ow]`) into `col` at
    /// column offset `col_offset` of rows `row_len` long; padding gives zeros.
    fn im2col(&self, xn: &[f32], col: &mut [f32], row_len: usize, col_offset: usize) {
        let (l, taps) = (self.l(), self.kh * self.kw);
        for ci in 0..self.c {
            let plane = &xn[ci * self.h * self.w..][..self.h * self.w];
            for tap in 0..taps {
                col[(ci * taps + tap) * row_len + col_offset..][..l].fill(0.0);
            }
            self.for_each_run(|run| {
                let row = &mut col[(ci * taps + run.tap) * row_len + col_offset..][..l];
                let src = &plane[run.iy * self.w..][..self.w];
                self.gather(&mut row[self.out_range(run)], src, run, |d, v| *d = v);
            });
        }
    }

    /// Adds im2col rows `col` (`[c·kh·kw, oh·ow]`) back onto their input positions in `xn`
    /// (`[c, h, w]`, zeroed by the caller): the transpose of [`Self::im2col`].
    fn col2im(&self, col: &[f32], xn: &mut [f32]) {
        let (l, taps) = (self.l(), self.kh * self.kw);
        for ci in 0..self.c {
            let plane = &mut xn[ci * self.h * self.w..][..self.h * self.w];
            self.for_each_run(|run| {
                let vals = &col[(ci * taps + run.tap) * l..][..l][self.out_range(run)];
                let dst = &mut plane[run.iy * self.w..][..self.w];
                self.scatter(dst, vals, run, |d, v| *d += v);
            });
        }
    }

    /// `yₙ = W · im2col(xₙ)`, `[n, o, oh, ow]`, one sample per task; a pointwise convolution
    /// multiplies `xₙ` itself. Not for depthwise convolutions (flex's own kernel is faster).
    pub(crate) fn forward(&self, x: &FlexTensor, weight: &FlexTensor) -> FlexTensor {
        let (x, wt) = (contiguous(x), contiguous(weight));
        let (x, wt) = (slice(&x), slice(&wt));
        let shape = [self.n, self.o, self.oh, self.ow];
        let (k, l, o) = (self.k(), self.l(), self.o);
        let in_len = self.c * self.h * self.w;
        let threads = self.gemm_threads();
        let mut y = vec![0.0f32; self.n * o * l];
        y.par_chunks_mut((o * l).max(1))
            .enumerate()
            .for_each(|(s, yn)| {
                let xn = &x[s * in_len..][..in_len];
                let lhs = (wt, k as isize, 1);
                if self.is_pointwise() {
                    gemm_f32(yn, [o, l, k], lhs, (xn, l as isize, 1), false, threads);
                } else {
                    with_scratch(k * l, |col| {
                        self.im2col(xn, col, l, 0);
                        gemm_f32(yn, [o, l, k], lhs, (col, l as isize, 1), false, threads);
                    });
                }
            });
        tensor(y, shape)
    }

    /// `dW = Σₙ dYₙ · im2col(xₙ)ᵀ`, `[o, c, kh, kw]`. Samples are packed side by side so each
    /// GEMM is at least [`MIN_GEMM_DEPTH`] deep; groups of samples run in parallel, each into
    /// its own accumulator.
    pub(crate) fn weight_grad(&self, x: &FlexTensor, output_grad: &FlexTensor) -> FlexTensor {
        let (x, dy) = (contiguous(x), contiguous(output_grad));
        let (x, dy) = (slice(&x), slice(&dy));
        if self.depthwise {
            return tensor(
                self.depthwise_weight_grad(x, dy),
                [self.o, 1, self.kh, self.kw],
            );
        }
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
                    if end - first == 1 && self.is_pointwise() {
                        // One sample of a pointwise convolution: dYₙ and xₙ are the operands.
                        let dyn_ = &dy[first * o * l..][..o * l];
                        let xn = &x[first * in_len..][..in_len];
                        accumulate_dw(&mut acc, [o, k, depth], dyn_, xn);
                        return acc;
                    }
                    with_scratch((o + k) * depth, |scratch| {
                        let (dys, cols) = scratch.split_at_mut(o * depth);
                        for (slot, s) in (first..end).enumerate() {
                            let dyn_ = &dy[s * o * l..(s + 1) * o * l];
                            for oc in 0..o {
                                dys[oc * depth + slot * l..][..l]
                                    .copy_from_slice(&dyn_[oc * l..(oc + 1) * l]);
                            }
                            let xn = &x[s * in_len..(s + 1) * in_len];
                            self.im2col(xn, cols, depth, slot * l);
                        }
                        accumulate_dw(&mut acc, [o, k, depth], dys, cols);
                    });
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
    /// writes the GEMM straight into `dXₙ`, a depthwise one works plane by plane.
    pub(crate) fn input_grad(&self, weight: &FlexTensor, output_grad: &FlexTensor) -> FlexTensor {
        let (wt, dy) = (contiguous(weight), contiguous(output_grad));
        let (wt, dy) = (slice(&wt), slice(&dy));
        let shape = [self.n, self.c, self.h, self.w];
        if self.depthwise {
            return tensor(self.depthwise_input_grad(wt, dy), shape);
        }
        let (k, l, o) = (self.k(), self.l(), self.o);
        let in_len = self.c * self.h * self.w;
        let threads = self.gemm_threads();
        let mut dx = vec![0.0f32; self.n * in_len];
        dx.par_chunks_mut(in_len.max(1))
            .enumerate()
            .for_each(|(s, dxn)| {
                let dyn_ = &dy[s * o * l..(s + 1) * o * l];
                // Wᵀ[k, o]: element (r, oc) at wt[oc · k + r].
                let lhs = (wt, 1, k as isize);
                let rhs = (dyn_, l as isize, 1);
                if self.is_pointwise() {
                    gemm_f32(dxn, [k, l, o], lhs, rhs, false, threads);
                } else {
                    with_scratch(k * l, |col| {
                        gemm_f32(col, [k, l, o], lhs, rhs, false, threads);
                        self.col2im(col, dxn);
                    });
                }
            });
        tensor(dx, shape)
    }
}

thread_local! {
    /// Each thread's im2col / col2im buffer, kept between calls: a fresh one per sample costs
    /// the allocator's page clearing on every convolution.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer of `len` values (contents unspecified). The buffer
/// is taken out while `f` runs, so a task that Rayon nests inside `f` on this thread gets a
/// buffer of its own.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buffer = SCRATCH.take();
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    let result = f(&mut buffer[..len]);
    SCRATCH.set(buffer);
    result
}

/// `acc[o, k] += dys[o, depth] · cols[k, depth]ᵀ`.
fn accumulate_dw(acc: &mut [f32], [o, k, depth]: [usize; 3], dys: &[f32], cols: &[f32]) {
    let (dys, cols) = ((dys, depth as isize, 1), (cols, 1, depth as isize));
    gemm_f32(acc, [o, k, depth], dys, cols, true, Parallelism::None);
}
