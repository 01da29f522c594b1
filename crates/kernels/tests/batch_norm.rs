//! `reid_kernels::batch_norm` against `burn::nn::BatchNorm::forward` followed by Burn's own
//! residual sum and ReLU / clamp on the `flex` backend: in training the same output, running
//! statistics and gradients of input, gamma, beta and residual (rank 4 and the BNNeck's rank 2,
//! activations far from zero mean, every activation with and without a residual); in evaluation
//! the same output; NaN stays NaN.

use burn::nn::{BatchNorm, BatchNormConfig};
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::relu;
use reid_kernels::Activation;

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

/// Burn's own operations for what the fused call does after the normalisation.
fn reference<const D: usize>(
    y: Tensor<D>,
    residual: Option<Tensor<D>>,
    act: Activation,
) -> Tensor<D> {
    let y = match residual {
        Some(r) => y + r,
        None => y,
    };
    match act {
        Activation::None => y,
        Activation::Relu => relu(y),
        Activation::Relu6 => y.clamp(0.0, 6.0),
    }
}

type Outcome<const D: usize> = (Tensor<D>, [Tensor<D>; 2], [Tensor<1>; 4]);

fn check<const D: usize>(shape: [usize; D], offset: f32, residual: bool, act: Activation) {
    let device = Device::flex().autodiff();
    let [gamma, beta] = affine(shape[1], &device);
    let x = Tensor::<D>::random(shape, Distribution::Normal(0.0, 2.0), &device) + offset;
    let r = Tensor::<D>::random(shape, Distribution::Normal(1.0, 2.0), &device);
    let g = Tensor::<D>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let run = |f: &dyn Fn(&BatchNorm, Tensor<D>, Option<Tensor<D>>) -> Tensor<D>| -> Outcome<D> {
        let bn = layer(&gamma, &beta);
        let x = x.clone().detach().require_grad();
        let r = r.clone().detach().require_grad();
        let y = f(&bn, x.clone(), residual.then(|| r.clone()));
        let grads = (y.clone() * g.clone()).sum().backward();
        let r_grad = r
            .grad(&grads)
            .unwrap_or_else(|| Tensor::zeros(shape, &Device::flex()));
        (
            y,
            [x.grad(&grads).expect("input gradient"), r_grad],
            [
                bn.gamma.grad(&grads).expect("gamma gradient"),
                bn.beta.grad(&grads).expect("beta gradient"),
                bn.running_mean.value(),
                bn.running_var.value(),
            ],
        )
    };
    let e = run(&|bn, x, r| reference(bn.forward(x), r, act));
    let o = run(&|bn, x, r| reid_kernels::batch_norm(bn, x, r, act));
    let case = format!("{shape:?} + {offset}, residual {residual}, {act:?}");
    close(&format!("output of {case}"), e.0, o.0);
    let [ex, er] = e.1;
    let [ox, or] = o.1;
    close(&format!("input gradient of {case}"), ex, ox);
    close(&format!("residual gradient of {case}"), er, or);
    let names = [
        "gamma gradient",
        "beta gradient",
        "running mean",
        "running variance",
    ];
    for ((name, e), o) in names.into_iter().zip(e.2).zip(o.2) {
        close(&format!("{name} of {case}"), e, o);
    }
}

const ACTIVATIONS: [Activation; 3] = [Activation::None, Activation::Relu, Activation::Relu6];

#[test]
fn training_matches_burn_on_feature_maps() {
    for act in ACTIVATIONS {
        for residual in [false, true] {
            check([4, 6, 5, 7], 0.0, residual, act);
            check([3, 5, 16, 8], 0.0, residual, act);
        }
    }
}

#[test]
fn training_matches_burn_on_embeddings_and_offset_activations() {
    check([16, 12], 0.0, false, Activation::None);
    for act in ACTIVATIONS {
        check([4, 3, 6, 6], 50.0, true, act);
    }
}

#[test]
fn evaluation_uses_the_running_statistics() {
    let device = Device::flex();
    let [gamma, beta] = affine(4, &device);
    let bn = layer(&gamma, &beta);
    let x = Tensor::<4>::random([2, 4, 3, 3], Distribution::Normal(1.0, 1.0), &device);
    let r = Tensor::<4>::random([2, 4, 3, 3], Distribution::Normal(0.0, 4.0), &device);
    for act in ACTIVATIONS {
        close(
            &format!("output with {act:?}"),
            reference(bn.forward(x.clone()), Some(r.clone()), act),
            reid_kernels::batch_norm(&bn, x.clone(), Some(r.clone()), act),
        );
    }
}

#[test]
fn relu6_equals_the_clamp_and_passes_nan() {
    let device = Device::flex();
    let xs = [
        -1e6, -3.0, -0.0, 0.0, 1e-7, 2.5, 5.999_999, 6.0, 6.000_001, 7.25, 1e6, 8e6,
    ];
    let x = Tensor::<1>::from_floats(xs, &device);
    let ours = Activation::Relu6
        .apply(x.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let clamp = x.clamp(0.0, 6.0).into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(ours, clamp);
    let nan = Tensor::<1>::from_floats([f32::NAN], &device);
    assert!(Activation::Relu6.apply(nan).into_scalar::<f32>().is_nan());
}

#[test]
fn a_nan_input_gives_nan_outputs_through_the_fused_activation() {
    let device = Device::flex().autodiff();
    let [gamma, beta] = affine(2, &device);
    let bn = layer(&gamma, &beta);
    let mut values = vec![0.5f32; 2 * 2 * 3 * 3];
    values[4] = f32::NAN;
    let x = Tensor::<1>::from_floats(values.as_slice(), &device).reshape([2, 2, 3, 3]);
    for act in [Activation::Relu, Activation::Relu6] {
        let y = reid_kernels::batch_norm(&bn, x.clone(), None, act);
        // Channel 0 of every sample holds the NaN's statistics.
        let channel0 = y
            .slice([0..2, 0..1])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(channel0.iter().all(|v| v.is_nan()), "{act:?}: {channel0:?}");
    }
}
