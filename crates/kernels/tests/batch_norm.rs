//! `reid_kernels::batch_norm` against `burn::nn::BatchNorm::forward` on the `flex` backend:
//! in training the same output, running statistics and gradients of input, gamma and beta
//! (rank 4 and the BNNeck's rank 2, activations far from zero mean); in evaluation the same
//! output.

use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::Distribution;

fn close<const D: usize>(name: &str, expected: Tensor<D>, got: Tensor<D>) {
    let plain = Device::flex();
    let e = Tensor::<D>::from_data(expected.into_data(), &plain);
    let g = Tensor::<D>::from_data(got.into_data(), &plain);
    let scale = e.clone().abs().max().into_scalar::<f32>().max(1.0);
    let diff = (e - g).abs().max().into_scalar::<f32>();
    assert!(
        diff <= 2e-5 * scale,
        "{name} differs by {diff} (scale {scale})"
    );
}

/// A trained-looking layer: gamma and beta away from 1 and 0 (tracked on an autodiff device);
/// each call gives its own running statistics.
fn layer(gamma: &Tensor<1>, beta: &Tensor<1>) -> BatchNorm {
    let device = gamma.device();
    let mut bn = BatchNormConfig::new(gamma.dims()[0]).init(&device);
    let track = |t: &Tensor<1>| {
        let t = t.clone().detach();
        if device.is_autodiff() {
            t.require_grad()
        } else {
            t
        }
    };
    bn.gamma = bn.gamma.map(|_| track(gamma));
    bn.beta = bn.beta.map(|_| track(beta));
    bn
}

fn affine(channels: usize, device: &Device) -> [Tensor<1>; 2] {
    let dist = Distribution::Uniform(0.5, 1.5);
    [0, 1].map(|_| Tensor::random([channels], dist, device))
}

fn check<const D: usize>(shape: [usize; D], offset: f32) {
    let device = Device::flex().autodiff();
    let [gamma, beta] = affine(shape[1], &device);
    let x = Tensor::<D>::random(shape, Distribution::Normal(0.0, 2.0), &device) + offset;
    let g = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let run = |f: &dyn Fn(&BatchNorm, Tensor<D>) -> Tensor<D>| {
        let bn = layer(&gamma, &beta);
        let x = x.clone().detach().require_grad();
        let y = f(&bn, x.clone());
        let grads = (y.clone() * g.clone()).sum().backward();
        (
            y,
            x.grad(&grads).expect("input gradient"),
            bn.gamma.grad(&grads).expect("gamma gradient"),
            bn.beta.grad(&grads).expect("beta gradient"),
            bn.running_mean.value(),
            bn.running_var.value(),
        )
    };
    let e = run(&|bn, x| bn.forward(x));
    let o = run(&|bn, x| reid_kernels::batch_norm(bn, x));
    close("output", e.0, o.0);
    close("input gradient", e.1, o.1);
    close("gamma gradient", e.2, o.2);
    close("beta gradient", e.3, o.3);
    close("running mean", e.4, o.4);
    close("running variance", e.5, o.5);
}

#[test]
fn training_matches_burn_on_feature_maps() {
    check([4, 6, 5, 7], 0.0);
    check([3, 5, 16, 8], 0.0);
}

#[test]
fn training_matches_burn_on_embeddings_and_offset_activations() {
    check([16, 12], 0.0);
    check([4, 3, 6, 6], 50.0);
}

#[test]
fn evaluation_uses_the_running_statistics() {
    let device = Device::flex();
    let [gamma, beta] = affine(4, &device);
    let bn = layer(&gamma, &beta);
    let x = Tensor::<4>::random([2, 4, 3, 3], Distribution::Normal(1.0, 1.0), &device);
    close(
        "output",
        bn.forward(x.clone()),
        reid_kernels::batch_norm(&bn, x),
    );
}
