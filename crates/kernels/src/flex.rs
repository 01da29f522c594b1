//! The `flex` (CPU) backend's [`TrainKernels`]: the GEMM convolution and gradients of
//! [`crate::conv`] and the fused batch normalisation of [`crate::batch_norm`], with Burn's
//! kernels for what they do not cover; and the slice helpers they share.

use crate::batch_norm;
use crate::conv::Geometry;
use crate::generic;
use crate::{Activation, TrainKernels};
use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::backend::ops::{ConvOptions, ModuleOps};
use burn::tensor::{Shape, TensorData};

impl TrainKernels for Flex {
    fn reid_conv2d(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>) -> FlexTensor {
        match Geometry::of(&x, &weight, None, &options) {
            // flex's depthwise forward (measured 3× ours) stays; the gradients are ours.
            Some(g) if !g.is_depthwise() => g.forward(&x, &weight),
            _ => Self::conv2d(x, weight, None, options),
        }
    }

    fn reid_conv2d_x_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        match Geometry::of(&x, &weight, Some(&output_grad), &options) {
            Some(g) => g.input_grad(&weight, &output_grad),
            None => Self::conv2d_x_backward(x, weight, output_grad, options),
        }
    }

    fn reid_conv2d_weight_backward(
        x: FlexTensor,
        weight: FlexTensor,
        output_grad: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        match Geometry::of(&x, &weight, Some(&output_grad), &options) {
            Some(g) => g.weight_grad(&x, &output_grad),
            None => Self::conv2d_weight_backward(x, weight, output_grad, options),
        }
    }

    fn reid_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        act: Activation,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        batch_norm_train(x, gamma, beta, None, epsilon, act)
    }

    fn reid_batch_norm_add_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        residual: FlexTensor,
        epsilon: f64,
        act: Activation,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        batch_norm_train(x, gamma, beta, Some(residual), epsilon, act)
    }

    fn reid_batch_norm_train_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        output: FlexTensor,
        epsilon: f64,
        act: Activation,
        residual: bool,
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor, Option<FlexTensor>) {
        let tensors = [&x, &gamma, &mean, &variance, &output, &output_grad].map(Some);
        match batch_norm::Planes::of(&tensors) {
            Some(p) => p.backward(
                &x,
                &gamma,
                &mean,
                &variance,
                &output,
                epsilon,
                act,
                residual,
                &output_grad,
            ),
            None => generic::batch_norm_train_backward::<Self>(
                x,
                gamma,
                mean,
                variance,
                output,
                epsilon,
                act,
                residual,
                output_grad,
            ),
        }
    }
}

/// The fused batch normalisation when it covers the tensors (`f32`, a residual of the input's
/// shape), Burn's operations otherwise.
fn batch_norm_train(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    residual: Option<FlexTensor>,
    epsilon: f64,
    act: Activation,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let same_shape = residual
        .as_ref()
        .is_none_or(|r| r.layout().shape() == x.layout().shape());
    match batch_norm::Planes::of(&[Some(&x), Some(&gamma), Some(&beta), residual.as_ref()]) {
        Some(p) if same_shape => p.forward(&x, &gamma, &beta, residual.as_ref(), epsilon, act),
        _ => generic::batch_norm_train::<Flex>(x, gamma, beta, residual, epsilon, act),
    }
}

pub(crate) fn contiguous(t: &FlexTensor) -> FlexTensor {
    t.to_contiguous()
}

pub(crate) fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("a contiguous f32 tensor has a slice")
}

pub(crate) fn tensor(data: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]` on `threads`, with `dst` row-major and `lhs` / `rhs`
/// given as (data, row stride, column stride).
pub(crate) fn gemm_f32(
    dst: &mut [f32],
    [m, n, k]: [usize; 3],
    lhs: (&[f32], isize, isize),
    rhs: (&[f32], isize, isize),
    accumulate: bool,
    threads: gemm::Parallelism,
) {
    assert!(dst.len() >= m * n, "GEMM destination too small");
    let reach = |(data, rs, cs): (&[f32], isize, isize), rows: usize, cols: usize| {
        rows == 0 || cols == 0 || data.len() > (rows - 1) * rs as usize + (cols - 1) * cs as usize
    };
    assert!(
        reach(lhs, m, k) && reach(rhs, k, n),
        "GEMM operand too small"
    );
    // SAFETY: the asserts above keep every index the strides reach inside the slices; `dst`
    // is borrowed mutably and so does not alias the operands.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2,
            lhs.1,
            rhs.0.as_ptr(),
            rhs.2,
            rhs.1,
            1.0,
            1.0,
            false,
            false,
            false,
            threads,
        );
    }
}
