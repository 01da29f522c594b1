//! `reid_kernels::conv2d` against Burn's own convolution on the `flex` backend: the same output
//! and the same input and weight gradients, for the shapes the networks use (pointwise, 3×3,
//! strided, the 7×7 stem, depthwise) and the edges (dilation, asymmetric padding, a kernel wider
//! than the padded input's remainder, other groupings on Burn's path).

use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::module::conv2d as burn_conv2d;
use burn::tensor::ops::ConvOptions;

/// Input `[n, c, h, w]`, output channels, kernel `[kh, kw]`, options.
type Case = ([usize; 4], usize, [usize; 2], ConvOptions<2>);

fn opts(
    stride: [usize; 2],
    pad: [(usize, usize); 2],
    dilation: usize,
    groups: usize,
) -> ConvOptions<2> {
    ConvOptions::new_with_padding(stride, pad, [dilation, dilation], groups)
}

/// Output, input gradient and weight gradient of one convolution under a fixed upstream
/// gradient.
fn run(
    case: &Case,
    data: &[Tensor<4>; 3],
    conv: fn(Tensor<4>, Tensor<4>, ConvOptions<2>) -> Tensor<4>,
) -> [Tensor<4>; 3] {
    let device = Device::flex().autodiff();
    let [x, w, g] = data
        .clone()
        .map(|t| Tensor::<4>::from_data(t.into_data(), &device));
    let (x, w) = (x.require_grad(), w.require_grad());
    let y = conv(x.clone(), w.clone(), case.3.clone());
    let grads = (y.clone() * g).sum().backward();
    let plain = Device::flex();
    let back = |t: Tensor<4>| Tensor::<4>::from_data(t.into_data(), &plain);
    [
        back(y.inner()),
        back(x.grad(&grads).expect("input gradient")),
        back(w.grad(&grads).expect("weight gradient")),
    ]
}

fn burn_reference(x: Tensor<4>, w: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    burn_conv2d(x, w, None, options)
}

fn check(case: Case) {
    let plain = Device::flex();
    let ([n, c, h, wd], o, [kh, kw], options) = &case;
    let x = Tensor::<4>::random([*n, *c, *h, *wd], Distribution::Normal(0.0, 1.0), &plain);
    let w = Tensor::<4>::random(
        [*o, c / options.groups, *kh, *kw],
        Distribution::Normal(0.0, 0.5),
        &plain,
    );
    let y = burn_conv2d(x.clone(), w.clone(), None, options.clone());
    let g = Tensor::<4>::random(y.dims(), Distribution::Normal(0.0, 1.0), &plain);
    let data = [x, w, g];
    let expected = run(&case, &data, burn_reference);
    let got = run(&case, &data, reid_kernels::conv2d);
    for (name, (e, g)) in ["output", "input gradient", "weight gradient"]
        .iter()
        .zip(expected.into_iter().zip(got))
    {
        assert_eq!(e.dims(), g.dims(), "{name} shape for {case:?}");
        let scale = e.clone().abs().max().into_scalar::<f32>().max(1.0);
        let diff = (e - g).abs().max().into_scalar::<f32>();
        assert!(
            diff <= 1e-5 * scale,
            "{name} differs by {diff} (scale {scale}) for {case:?}"
        );
    }
}

#[test]
fn pointwise_convolutions_match_burn() {
    check(([3, 8, 6, 5], 12, [1, 1], opts([1, 1], [(0, 0); 2], 1, 1)));
    // One sample per GEMM: the operands are the tensors themselves, not packed copies.
    check(([2, 8, 6, 5], 12, [1, 1], opts([1, 1], [(0, 0); 2], 1, 1)));
    // Strided pointwise (a ResNet downsample) goes through im2col.
    check(([2, 8, 7, 6], 16, [1, 1], opts([2, 2], [(0, 0); 2], 1, 1)));
}

#[test]
fn spatial_convolutions_match_burn() {
    check(([3, 5, 9, 7], 6, [3, 3], opts([1, 1], [(1, 1); 2], 1, 1)));
    check(([2, 4, 10, 9], 7, [3, 3], opts([2, 2], [(1, 1); 2], 1, 1)));
    // The ResNet stem: 7×7, stride 2, padding 3.
    check(([2, 3, 20, 14], 8, [7, 7], opts([2, 2], [(3, 3); 2], 1, 1)));
    // Non-square kernel and strides, no padding.
    check(([2, 3, 11, 8], 4, [3, 2], opts([2, 1], [(0, 0); 2], 1, 1)));
}

#[test]
fn dilated_and_asymmetrically_padded_convolutions_match_burn() {
    check(([2, 3, 12, 10], 5, [3, 3], opts([1, 1], [(2, 2); 2], 2, 1)));
    check((
        [2, 3, 9, 8],
        4,
        [3, 3],
        opts([2, 2], [(0, 1), (1, 0)], 1, 1),
    ));
    // A kernel taller than the input plus padding allows for some offsets.
    check(([1, 2, 3, 3], 3, [5, 5], opts([1, 1], [(2, 2); 2], 1, 1)));
}

#[test]
fn depthwise_convolutions_match_burn() {
    check(([2, 6, 8, 7], 6, [3, 3], opts([1, 1], [(1, 1); 2], 1, 6)));
    check(([3, 5, 9, 8], 5, [3, 3], opts([2, 2], [(1, 1); 2], 1, 5)));
    check(([1, 4, 7, 7], 4, [5, 5], opts([1, 1], [(2, 2); 2], 1, 4)));
    // MobileNetV2's late 8×4 maps; strides, dilation and padding differing by axis; a kernel
    // wider than the padded input allows for some offsets.
    check(([2, 6, 8, 4], 6, [3, 3], opts([1, 1], [(1, 1); 2], 1, 6)));
    check((
        [2, 4, 11, 9],
        4,
        [3, 3],
        opts([2, 1], [(0, 1), (1, 0)], 2, 4),
    ));
    check(([1, 3, 3, 3], 3, [5, 5], opts([1, 1], [(2, 2); 2], 1, 3)));
}

#[test]
fn other_groupings_keep_burns_results() {
    check(([2, 8, 8, 7], 4, [3, 3], opts([2, 2], [(1, 1); 2], 1, 2)));
    // A channel multiplier of 2 is grouped, not depthwise.
    check(([2, 4, 6, 6], 8, [3, 3], opts([1, 1], [(1, 1); 2], 1, 4)));
}

#[test]
fn the_plain_cpu_device_computes_the_same_convolution() {
    let plain = Device::flex();
    // Batch 1 runs each GEMM on all threads; batch 3 one sample per thread.
    for (n, k, pad) in [(1, 3, 1), (1, 1, 0), (3, 3, 1)] {
        let x = Tensor::<4>::random([n, 4, 6, 6], Distribution::Normal(0.0, 1.0), &plain);
        let w = Tensor::<4>::random([5, 4, k, k], Distribution::Normal(0.0, 1.0), &plain);
        let options = opts([1, 1], [(pad, pad); 2], 1, 1);
        let expected = burn_conv2d(x.clone(), w.clone(), None, options.clone());
        let got = reid_kernels::conv2d(x, w, options);
        let diff = (expected - got).abs().max().into_scalar::<f32>();
        assert!(
            diff <= 1e-5,
            "output differs by {diff} at batch {n}, {k}×{k}"
        );
    }
}
