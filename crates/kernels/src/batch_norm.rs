//! Batch normalisation in training on the CPU, fused: the forward pass reads the input twice
//! (statistics, then `y = a·x + b` per channel) and the backward pass reads input and output
//! gradient twice (two sums per channel, then `dx = A·dy + B·x + C`), where Burn's generic
//! version transposes and rescans the activation several times. `f32` inputs `[N, C, …]`.

use crate::flex::{contiguous, slice, tensor};
use burn::backend::flex::FlexTensor;
use burn::tensor::DType;
use rayon::prelude::*;

/// Sums run in this many independent `f32` lanes (vectorised) before meeting in `f64`.
const LANES: usize = 8;

/// Elements per parallel task at least, so that `[N, C]` inputs do not make one task per value.
const MIN_TASK: usize = 4096;

/// An input seen as `n × c` planes of `s` values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Planes {
    n: usize,
    c: usize,
    s: usize,
}

type Triple = (FlexTensor, FlexTensor, FlexTensor);

impl Planes {
    /// The planes of the first tensor (the input) when every tensor is `f32` and the input has
    /// a channel axis and values (an empty input keeps Burn's path).
    pub(crate) fn of(tensors: &[&FlexTensor]) -> Option<Self> {
        let shape = tensors.first()?.layout().shape();
        let ok = shape.num_dims() >= 2
            && shape.num_elements() > 0
            && tensors.iter().all(|t| t.dtype() == DType::F32);
        ok.then(|| Self {
            n: shape[0],
            c: shape[1],
            s: shape.num_elements() / (shape[0] * shape[1]).max(1),
        })
    }

    fn count(&self) -> f64 {
        (self.n * self.s) as f64
    }

    /// Channel `ch`'s plane of sample `i` in `data`.
    fn plane<'a>(&self, data: &'a [f32], i: usize, ch: usize) -> &'a [f32] {
        &data[(i * self.c + ch) * self.s..][..self.s]
    }

    /// Per channel, `f(channel)` summed over all samples' planes, in parallel over channels.
    fn per_channel<F>(&self, f: F) -> Vec<[f64; 2]>
    where
        F: Fn(usize, usize) -> [f64; 2] + Sync,
    {
        (0..self.c)
            .into_par_iter()
            .map(|ch| {
                (0..self.n).fold([0.0; 2], |acc, i| {
                    let v = f(i, ch);
                    [acc[0] + v[0], acc[1] + v[1]]
                })
            })
            .collect()
    }

    /// `out = a[ch]·u + b[ch]·v + k[ch]` for every plane, in parallel.
    fn affine(&self, u: &[f32], v: &[f32], coef: &[[f32; 3]]) -> Vec<f32> {
        let mut out = vec![0.0f32; u.len()];
        let s = self.s.max(1);
        out.par_chunks_mut(s)
            .with_min_len(MIN_TASK.div_ceil(s))
            .enumerate()
            .for_each(|(p, dst)| {
                let [a, b, k] = coef[p % self.c];
                let (u, v) = (&u[p * s..][..s], &v[p * s..][..s]);
                for ((d, &u), &v) in dst.iter_mut().zip(u).zip(v) {
                    *d = a * u + b * v + k;
                }
            });
        out
    }

    /// Output, batch mean and biased batch variance per channel.
    pub(crate) fn forward(
        &self,
        x: &FlexTensor,
        gamma: &FlexTensor,
        beta: &FlexTensor,
        epsilon: f64,
    ) -> Triple {
        let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
        let (xs, gamma, beta) = (slice(&x), slice(&gamma), slice(&beta));
        // Sums of x − shift (the channel's first value) keep the variance free of cancellation.
        let shift: Vec<f32> = (0..self.c).map(|ch| self.plane(xs, 0, ch)[0]).collect();
        let sums = self.per_channel(|i, ch| {
            let shift = shift[ch];
            lane_sums(self.plane(xs, i, ch), |x| {
                let d = x - shift;
                [d, d * d]
            })
        });
        let mut mean = Vec::with_capacity(self.c);
        let mut variance = Vec::with_capacity(self.c);
        let mut coef = Vec::with_capacity(self.c);
        for (ch, [sum, squares]) in sums.into_iter().enumerate() {
            let d = sum / self.count();
            let var = (squares / self.count() - d * d).max(0.0);
            let mu = f64::from(shift[ch]) + d;
            let a = f64::from(gamma[ch]) / (var + epsilon).sqrt();
            mean.push(mu as f32);
            variance.push(var as f32);
            coef.push([a as f32, 0.0, (f64::from(beta[ch]) - mu * a) as f32]);
        }
        let y = self.affine(xs, xs, &coef);
        let dims = x.layout().shape().clone();
        (
            tensor(y, dims),
            tensor(mean, [self.c]),
            tensor(variance, [self.c]),
        )
    }

    /// Gradients of input, `gamma` and `beta`.
    pub(crate) fn backward(
        &self,
        x: &FlexTensor,
        gamma: &FlexTensor,
        mean: &FlexTensor,
        variance: &FlexTensor,
        epsilon: f64,
        output_grad: &FlexTensor,
    ) -> Triple {
        let (x, dy) = (contiguous(x), contiguous(output_grad));
        let (gamma, mean, variance) = (contiguous(gamma), contiguous(mean), contiguous(variance));
        let (xs, dys) = (slice(&x), slice(&dy));
        let (gamma, mean, variance) = (slice(&gamma), slice(&mean), slice(&variance));
        // Σ dy and Σ dy·(x − mean) per channel.
        let sums = self.per_channel(|i, ch| {
            let mu = mean[ch];
            let dy = self.plane(dys, i, ch);
            lane_sums_zip(dy, self.plane(xs, i, ch), |dy, x| [dy, dy * (x - mu)])
        });
        let mut gamma_grad = Vec::with_capacity(self.c);
        let mut beta_grad = Vec::with_capacity(self.c);
        let mut coef = Vec::with_capacity(self.c);
        for (ch, [sum_dy, sum_dy_xc]) in sums.into_iter().enumerate() {
            let inv_std = 1.0 / (f64::from(variance[ch]) + epsilon).sqrt();
            gamma_grad.push((sum_dy_xc * inv_std) as f32);
            beta_grad.push(sum_dy as f32);
            // dx = a·(dy − Σdy/M − (x − mean)·inv_std²·Σdy(x − mean)/M)
            let a = f64::from(gamma[ch]) * inv_std;
            let b = -a * inv_std * inv_std * sum_dy_xc / self.count();
            let k = -a * sum_dy / self.count() - b * f64::from(mean[ch]);
            coef.push([a as f32, b as f32, k as f32]);
        }
        let dx = self.affine(dys, xs, &coef);
        let dims = x.layout().shape().clone();
        (
            tensor(dx, dims),
            tensor(gamma_grad, [self.c]),
            tensor(beta_grad, [self.c]),
        )
    }
}

/// `Σ f(v)` (two sums) over `values`, in [`LANES`] `f32` lanes gathered in `f64`.
fn lane_sums(values: &[f32], f: impl Fn(f32) -> [f32; 2]) -> [f64; 2] {
    lane_sums_zip(values, values, |v, _| f(v))
}

/// `Σ f(a, b)` (two sums) over pairs of `a` and `b`, in [`LANES`] `f32` lanes gathered in `f64`.
fn lane_sums_zip(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> [f32; 2]) -> [f64; 2] {
    let mut lanes = [[0.0f32; LANES]; 2];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (ca, cb) in ca.zip(cb) {
        for l in 0..LANES {
            let [p, q] = f(ca[l], cb[l]);
            lanes[0][l] += p;
            lanes[1][l] += q;
        }
    }
    let mut sums = lanes.map(|lane| lane.iter().map(|&v| f64::from(v)).sum::<f64>());
    for (&a, &b) in ra.iter().zip(rb) {
        let [p, q] = f(a, b);
        sums[0] += f64::from(p);
        sums[1] += f64::from(q);
    }
    sums
}
