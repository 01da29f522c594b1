//! The `flex` (CPU) backend's [`TrainKernels`]: the GEMM convolution and gradients of
//! [`crate::conv`] and the fused batch normalisation of [`crate::batch_norm`], with Burn's
//! kernels for what they do not cover; and the slice helpers they share.

use crate::TrainKernels;
use crate::batch_norm;
use crate::conv::Geometry;
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
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        match batch_norm::Planes::of(&[&x, &gamma, &beta]) {
            Some(p) => p.forward(&x, &gamma, &beta, epsilon),
            None => {
                let r = Self::batch_norm_train(x, gamma, beta, epsilon);
                (r.output, r.mean, r.variance)
            }
        }
    }

    fn reid_batch_norm_train_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        match batch_norm::Planes::of(&[&x, &gamma, &mean, &variance, &output_grad]) {
            Some(p) => p.backward(&x, &gamma, &mean, &variance, epsilon, &output_grad),
            None => {
                let r =
                    Self::batch_norm_train_backward(x, gamma, mean, variance, epsilon, output_grad);
                (r.x_grad, r.gamma_grad, r.beta_grad)
            }
        }
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
