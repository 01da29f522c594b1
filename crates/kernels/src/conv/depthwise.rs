//! Depthwise convolution gradients, a whole plane per pass: the input plane is zero-padded to
//! `[hp, wp]` and the output gradient spread over the same grid at each output's receptive-field
//! origin (`oy·sy, ox·sx`; zeros between), so that kernel tap `(i, j)` becomes the plain offset
//! `i·dy·wp + j·dx` and each tap is one long dot product (weight gradient) or `axpy` (input
//! gradient) — no per-row bookkeeping, which dominated on the 8×4 maps of MobileNetV2's late
//! stages. Strided convolutions pay for the zeros of the spread (few, small layers).

use super::{Geometry, with_scratch};
use rayon::prelude::*;

/// Sizes of the padded grid of one plane.
#[derive(Clone, Copy)]
struct Grid {
    hp: usize,
    wp: usize,
    /// Length of the spread output gradient: `(oh − 1)·sy·wp + (ow − 1)·sx + 1`.
    spread: usize,
}

impl Grid {
    /// Runs `f` on this thread's scratch buffer as a padded plane and a spread output gradient
    /// (contents unspecified).
    fn with_buffers<R>(&self, f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
        with_scratch(self.hp * self.wp + self.spread, |buffer| {
            let (plane, spread) = buffer.split_at_mut(self.hp * self.wp);
            f(plane, spread)
        })
    }
}

impl Geometry {
    fn grid(&self) -> Grid {
        let reach = |axis: usize, out: usize, k: usize| {
            (out - 1) * self.stride[axis] + (k - 1) * self.dilation[axis] + 1
        };
        let hp = (self.pad[0] + self.h).max(reach(0, self.oh, self.kh));
        let wp = (self.pad[1] + self.w).max(reach(1, self.ow, self.kw));
        let spread = (self.oh - 1) * self.stride[0] * wp + (self.ow - 1) * self.stride[1] + 1;
        Grid { hp, wp, spread }
    }

    /// Offset of kernel tap `tap` in the padded grid.
    fn tap_offset(&self, tap: usize, wp: usize) -> usize {
        (tap / self.kw) * self.dilation[0] * wp + (tap % self.kw) * self.dilation[1]
    }

    /// Copies input plane `xp` into the interior of the padded grid `dst` (whose border is
    /// left as it is: zero it once).
    fn pad_into(&self, xp: &[f32], dst: &mut [f32], wp: usize) {
        for (y, row) in xp.chunks_exact(self.w).enumerate() {
            dst[(self.pad[0] + y) * wp + self.pad[1]..][..self.w].copy_from_slice(row);
        }
    }

    /// Writes output-gradient plane `dyp` at its origins in `dst` (the positions between are
    /// left as they are: zero them once).
    fn spread_into(&self, dyp: &[f32], dst: &mut [f32], wp: usize) {
        let (sy, sx) = (self.stride[0], self.stride[1]);
        for (oy, row) in dyp.chunks_exact(self.ow).enumerate() {
            let line = &mut dst[oy * sy * wp..];
            if sx == 1 {
                line[..self.ow].copy_from_slice(row);
            } else {
                for (ox, &v) in row.iter().enumerate() {
                    line[ox * sx] = v;
                }
            }
        }
    }

    /// Depthwise input gradient `[n, c, h, w]`, in parallel over planes:
    /// `dx_pad[q + offset(tap)] += w[tap] · spread(dy)[q]`, then the interior of `dx_pad`.
    pub(super) fn depthwise_input_grad(&self, wt: &[f32], dy: &[f32]) -> Vec<f32> {
        let (plane_in, plane_out, taps) = (self.h * self.w, self.l(), self.kh * self.kw);
        let mut dx = vec![0.0f32; self.n * self.c * plane_in];
        if plane_out == 0 {
            return dx;
        }
        let g = self.grid();
        dx.par_chunks_mut(plane_in.max(1))
            .enumerate()
            .for_each(|(p, dxp)| {
                let taps_w = &wt[(p % self.c) * taps..][..taps];
                g.with_buffers(|dx_pad, spread| {
                    dx_pad.fill(0.0);
                    spread.fill(0.0);
                    self.spread_into(&dy[p * plane_out..][..plane_out], spread, g.wp);
                    for (tap, &wv) in taps_w.iter().enumerate() {
                        let dst = &mut dx_pad[self.tap_offset(tap, g.wp)..][..g.spread];
                        for (d, &v) in dst.iter_mut().zip(spread.iter()) {
                            *d += wv * v;
                        }
                    }
                    for (y, row) in dxp.chunks_exact_mut(self.w).enumerate() {
                        row.copy_from_slice(
                            &dx_pad[(self.pad[0] + y) * g.wp + self.pad[1]..][..self.w],
                        );
                    }
                });
            });
        dx
    }

    /// Depthwise weight gradient `[c, 1, kh, kw]`, in parallel over channels:
    /// `dw[tap] = Σₙ spread(dyₙ) · x_padₙ[offset(tap)..]`.
    pub(super) fn depthwise_weight_grad(&self, x: &[f32], dy: &[f32]) -> Vec<f32> {
        let (plane_in, plane_out, taps) = (self.h * self.w, self.l(), self.kh * self.kw);
        let mut dw = vec![0.0f32; self.c * taps];
        if plane_out == 0 {
            return dw;
        }
        let g = self.grid();
        dw.par_chunks_mut(taps.max(1))
            .enumerate()
            .for_each(|(ch, dtaps)| {
                g.with_buffers(|x_pad, spread| {
                    // Borders and gaps stay zero: every sample writes the same positions.
                    x_pad.fill(0.0);
                    spread.fill(0.0);
                    for s in 0..self.n {
                        let p = s * self.c + ch;
                        self.pad_into(&x[p * plane_in..][..plane_in], x_pad, g.wp);
                        self.spread_into(&dy[p * plane_out..][..plane_out], spread, g.wp);
                        for (tap, d) in dtaps.iter_mut().enumerate() {
                            let xs = &x_pad[self.tap_offset(tap, g.wp)..][..g.spread];
                            *d += dot(spread, xs);
                        }
                    }
                });
            });
        dw
    }
}

/// `Σ a·b` in sixteen independent lanes (so it vectorises), then across them.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(a, b)| a * b)
        .sum();
    for (ca, cb) in ca.zip(cb) {
        for ((l, a), b) in lanes.iter_mut().zip(ca).zip(cb) {
            *l += a * b;
        }
    }
    lanes.iter().sum::<f32>() + rest
}
