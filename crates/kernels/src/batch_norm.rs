//! Batch normalisation in training on the CPU, fused with what follows it (a residual sum, a
//! ReLU / ReLU6): the forward pass reads the input twice (statistics, then
//! `y = act(a·x + b + r)` per channel) and the backward pass reads input, output and output
//! gradient twice (two sums per channel of the masked gradient `g`, then `dx = A·g + B·x + C`),
//! where Burn's generic version transposes and rescans the activation several times and each
//! separate activation or sum would read and write it again. `f32` inputs `[N, C, …]`.

use crate::Activation;
use crate::flex::{contiguous, slice, tensor};
use burn::backend::flex::FlexTensor;
use burn::tensor::DType;
use rayon::prelude::*;

/// Sums run in this many independent `f32` lanes (vectorised) before meeting in `f64`.
const LANES: usize = 16;

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
type Quad = (FlexTensor, FlexTensor, FlexTensor, Option<FlexTensor>);

impl Planes {
    /// The planes of the first tensor (the input) when every tensor given is `f32` and the input
    /// has a channel axis and values (an empty input keeps Burn's path).
    pub(crate) fn of(tensors: &[Option<&FlexTensor>]) -> Option<Self> {
        let shape = tensors.first()?.as_ref()?.layout().shape();
        let ok = shape.num_dims() >= 2
            && shape.num_elements() > 0
            && tensors.iter().flatten().all(|t| t.dtype() == DType::F32);
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

    /// Output, batch mean and biased batch variance per channel.
    pub(crate) fn forward(
        &self,
        x: &FlexTensor,
        gamma: &FlexTensor,
        beta: &FlexTensor,
        residual: Option<&FlexTensor>,
        epsilon: f64,
        act: Activation,
    ) -> Triple {
        let (x, gamma, beta) = (contiguous(x), contiguous(gamma), contiguous(beta));
        let residual = residual.map(contiguous);
        let (xs, gamma, beta) = (slice(&x), slice(&gamma), slice(&beta));
        // Sums of x − shift (the channel's first value) keep the variance free of cancellation.
        let shift: Vec<f32> = (0..self.c).map(|ch| self.plane(xs, 0, ch)[0]).collect();
        let sums = self.per_channel(|i, ch| {
            let shift = shift[ch];
            let xp = self.plane(xs, i, ch);
            lane_sums(xp, xp, xp, |x, _, _| {
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
            coef.push([a as f32, (f64::from(beta[ch]) - mu * a) as f32]);
        }
        let rs = residual.as_ref().map(slice);
        let y = match act {
            Activation::None => self.normalise::<Identity>(xs, rs, &coef),
            Activation::Relu => self.normalise::<Relu>(xs, rs, &coef),
            Activation::Relu6 => self.normalise::<Relu6>(xs, rs, &coef),
        };
        let dims = x.layout().shape().clone();
        (
            tensor(y, dims),
            tensor(mean, [self.c]),
            tensor(variance, [self.c]),
        )
    }

    /// `y = A(a[ch]·x + k[ch] + r)` for every plane, in parallel.
    fn normalise<A: Act>(&self, xs: &[f32], rs: Option<&[f32]>, coef: &[[f32; 2]]) -> Vec<f32> {
        let mut y = vec![0.0f32; xs.len()];
        let s = self.s.max(1);
        y.par_chunks_mut(s)
            .with_min_len(MIN_TASK.div_ceil(s))
            .enumerate()
            .for_each(|(p, dst)| {
                let [a, k] = coef[p % self.c];
                let x = &xs[p * s..][..s];
                match rs {
                    Some(rs) => {
                        let r = &rs[p * s..][..s];
                        for ((d, &x), &r) in dst.iter_mut().zip(x).zip(r) {
                            *d = A::apply(a * x + k + r);
                        }
                    }
                    None => {
                        for (d, &x) in dst.iter_mut().zip(x) {
                            *d = A::apply(a * x + k);
                        }
                    }
                }
            });
        y
    }

    /// Gradients of input, `gamma`, `beta` and, when `residual`, of the residual (the masked
    /// output gradient).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward(
        &self,
        x: &FlexTensor,
        gamma: &FlexTensor,
        mean: &FlexTensor,
        variance: &FlexTensor,
        output: &FlexTensor,
        epsilon: f64,
        act: Activation,
        residual: bool,
        output_grad: &FlexTensor,
    ) -> Quad {
        let (x, dy, y) = (contiguous(x), contiguous(output_grad), contiguous(output));
        let (gamma, mean, variance) = (contiguous(gamma), contiguous(mean), contiguous(variance));
        let args = Slices {
            x: slice(&x),
            dy: slice(&dy),
            y: slice(&y),
            gamma: slice(&gamma),
            mean: slice(&mean),
            variance: slice(&variance),
        };
        let (dx, gamma_grad, beta_grad, residual_grad) = match act {
            Activation::None => self.backward_with::<Identity>(args, epsilon, residual),
            Activation::Relu => self.backward_with::<Relu>(args, epsilon, residual),
            Activation::Relu6 => self.backward_with::<Relu6>(args, epsilon, residual),
        };
        let dims = x.layout().shape().clone();
        // Unmasked, the residual's gradient is the output gradient itself.
        let residual_grad = residual.then(|| match residual_grad {
            Some(g) => tensor(g, dims.clone()),
            None => dy.clone(),
        });
        (
            tensor(dx, dims),
            tensor(gamma_grad, [self.c]),
            tensor(beta_grad, [self.c]),
            residual_grad,
        )
    }

    /// Input, gamma, beta gradients and the masked gradient when an activation masks it and
    /// the residual needs it.
    fn backward_with<A: Act>(&self, t: Slices, epsilon: f64, residual: bool) -> Grads {
        let (xs, dys, ys) = (t.x, t.dy, t.y);
        let (gamma, mean, variance) = (t.gamma, t.mean, t.variance);
        // Σ g and Σ g·(x − mean) per channel, g = dy masked by the activation.
        let sums = self.per_channel(|i, ch| {
            let mu = mean[ch];
            let (dy, xp, yp) = (
                self.plane(dys, i, ch),
                self.plane(xs, i, ch),
                self.plane(ys, i, ch),
            );
            lane_sums(dy, xp, yp, |dy, x, y| {
                let g = A::mask(dy, y);
                [g, g * (x - mu)]
            })
        });
        let mut gamma_grad = Vec::with_capacity(self.c);
        let mut beta_grad = Vec::with_capacity(self.c);
        let mut coef = Vec::with_capacity(self.c);
        for (ch, [sum_g, sum_g_xc]) in sums.into_iter().enumerate() {
            let inv_std = 1.0 / (f64::from(variance[ch]) + epsilon).sqrt();
            gamma_grad.push((sum_g_xc * inv_std) as f32);
            beta_grad.push(sum_g as f32);
            // dx = a·(g − Σg/M − (x − mean)·inv_std²·Σg(x − mean)/M)
            let a = f64::from(gamma[ch]) * inv_std;
            let b = -a * inv_std * inv_std * sum_g_xc / self.count();
            let k = -a * sum_g / self.count() - b * f64::from(mean[ch]);
            coef.push([a as f32, b as f32, k as f32]);
        }
        let s = self.s.max(1);
        let mut dx = vec![0.0f32; xs.len()];
        let mut dr = (residual && !A::IDENTITY).then(|| vec![0.0f32; xs.len()]);
        let plane = |p: usize, dx: &mut [f32], dr: Option<&mut [f32]>| {
            let [a, b, k] = coef[p % self.c];
            let (dy, x, y) = (&dys[p * s..][..s], &xs[p * s..][..s], &ys[p * s..][..s]);
            let grads = dy.iter().zip(y).map(|(&dy, &y)| A::mask(dy, y));
            match dr {
                Some(dr) => {
                    for (((d, r), g), &x) in dx.iter_mut().zip(dr).zip(grads).zip(x) {
                        *d = a * g + b * x + k;
                        *r = g;
                    }
                }
                None => {
                    for ((d, g), &x) in dx.iter_mut().zip(grads).zip(x) {
                        *d = a * g + b * x + k;
                    }
                }
            }
        };
        let min_len = MIN_TASK.div_ceil(s);
        match dr.as_mut() {
            Some(dr) => dx
                .par_chunks_mut(s)
                .zip(dr.par_chunks_mut(s))
                .with_min_len(min_len)
                .enumerate()
                .for_each(|(p, (dx, dr))| plane(p, dx, Some(dr))),
            None => dx
                .par_chunks_mut(s)
                .with_min_len(min_len)
                .enumerate()
                .for_each(|(p, dx)| plane(p, dx, None)),
        }
        (dx, gamma_grad, beta_grad, dr)
    }
}

/// The backward pass's inputs as slices: activation, output gradient, output, and the
/// per-channel gamma and batch statistics.
#[derive(Clone, Copy)]
struct Slices<'a> {
    x: &'a [f32],
    dy: &'a [f32],
    y: &'a [f32],
    gamma: &'a [f32],
    mean: &'a [f32],
    variance: &'a [f32],
}

/// Input gradient, gamma and beta gradients, and the masked output gradient if computed.
type Grads = (Vec<f32>, Vec<f32>, Vec<f32>, Option<Vec<f32>>);

/// An activation fused after the normalisation: its value and the mask of its gradient.
trait Act {
    /// No activation: the gradient passes unmasked.
    const IDENTITY: bool = false;
    fn apply(v: f32) -> f32;
    /// The gradient `dy` through the activation whose output was `y`.
    fn mask(dy: f32, y: f32) -> f32;
}

struct Identity;
struct Relu;
struct Relu6;

impl Act for Identity {
    const IDENTITY: bool = true;
    fn apply(v: f32) -> f32 {
        v
    }
    fn mask(dy: f32, _: f32) -> f32 {
        dy
    }
}

// Written so that NaN passes through as NaN (`f32::max(v, 0.0)` would turn it into 0).
impl Act for Relu {
    fn apply(v: f32) -> f32 {
        if v < 0.0 { 0.0 } else { v }
    }
    fn mask(dy: f32, y: f32) -> f32 {
        if y > 0.0 { dy } else { 0.0 }
    }
}

impl Act for Relu6 {
    fn apply(v: f32) -> f32 {
        v.clamp(0.0, 6.0)
    }
    fn mask(dy: f32, y: f32) -> f32 {
        if y > 0.0 && y < 6.0 { dy } else { 0.0 }
    }
}

/// `Σ f(a, b, c)` (two sums) over triples of `a`, `b` and `c`, in [`LANES`] `f32` lanes gathered
/// in `f64`.
fn lane_sums(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> [f32; 2]) -> [f64; 2] {
    let mut lanes = [[0.0f32; LANES]; 2];
    let (ca, cb, cc) = (
        a.chunks_exact(LANES),
        b.chunks_exact(LANES),
        c.chunks_exact(LANES),
    );
    let (ra, rb, rc) = (ca.remainder(), cb.remainder(), cc.remainder());
    for ((ca, cb), cc) in ca.zip(cb).zip(cc) {
        for l in 0..LANES {
            let [p, q] = f(ca[l], cb[l], cc[l]);
            lanes[0][l] += p;
            lanes[1][l] += q;
        }
    }
    let mut sums = lanes.map(|lane| lane.iter().map(|&v| f64::from(v)).sum::<f64>());
    for ((&a, &b), &c) in ra.iter().zip(rb).zip(rc) {
        let [p, q] = f(a, b, c);
        sums[0] += f64::from(p);
        sums[1] += f64::from(q);
    }
    sums
}
