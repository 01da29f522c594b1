//! Burn backend extensions that make training on the CPU faster, behind one tensor-level call
//! per operation.
//!
//! - [`conv2d`]: a bias-free 2-D convolution which on Burn's `flex` backend runs as
//!   `W · im2col(xₙ)` per sample and whose backward computes the weight gradient as
//!   `Σₙ dYₙ · im2col(xₙ)ᵀ` and the input gradient as `col2im(Wᵀ · dYₙ)` with blocked GEMMs
//!   ([`conv`]; depthwise gradients plane by plane), where Burn's generic backward runs the
//!   weight gradient as a convolution of transposed copies of `x` and `dY` (a matrix–vector
//!   product per input channel: 5–13× the forward's time, measured).
//! - [`batch_norm`]: `burn::nn::BatchNorm`'s forward, optionally followed by a residual sum and
//!   a ReLU / ReLU6, with the training pass fused per channel ([`batch_norm`](mod@batch_norm)):
//!   one pass writes the activated output and the backward pass masks the gradient on the fly,
//!   where separate operations would each read and write the whole activation again.
//!
//! Other backends (`wgpu`) and the cases the kernels do not cover (grouped but not depthwise
//! convolutions, non-`f32` data) use Burn's own kernels, so results are the same everywhere.

mod autodiff;
mod batch_norm;
mod conv;
mod flex;
mod generic;

use burn::backend::ops::ConvOptions;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

/// The operations a backend provides to [`conv2d`] and [`batch_norm`]; the defaults are
/// Burn's own.
#[backend_extension(Flex, Cube: cfg(feature = "wgpu"), Autodiff)]
pub trait TrainKernels: Backend {
    /// Convolution without bias.
    fn reid_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }

    /// Gradient of the convolution's input.
    fn reid_conv2d_x_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_x_backward(x, weight, output_grad, options)
    }

    /// Gradient of the convolution's weight.
    fn reid_conv2d_weight_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        output_grad: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d_weight_backward(x, weight, output_grad, options)
    }

    /// Batch normalisation with the batch's statistics, then `act`: output, mean and biased
    /// variance.
    fn reid_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        act: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        generic::batch_norm_train::<Self>(x, gamma, beta, None, epsilon, act)
    }

    /// [`Self::reid_batch_norm_train`] with `residual` added before `act`.
    fn reid_batch_norm_add_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        residual: FloatTensor<Self>,
        epsilon: f64,
        act: Activation,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        generic::batch_norm_train::<Self>(x, gamma, beta, Some(residual), epsilon, act)
    }

    /// Gradients of [`Self::reid_batch_norm_train`]'s (or, when `residual`,
    /// [`Self::reid_batch_norm_add_train`]'s) input, `gamma`, `beta` and residual; `output` is the forward's (it masks the gradient of `act`).
    #[allow(clippy::too_many_arguments)]
    fn reid_batch_norm_train_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        output: FloatTensor<Self>,
        epsilon: f64,
        act: Activation,
        residual: bool,
        output_grad: FloatTensor<Self>,
    ) -> (
        FloatTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
        Option<FloatTensor<Self>>,
    ) {
        generic::batch_norm_train_backward::<Self>(
            x,
            gamma,
            mean,
            variance,
            output,
            epsilon,
            act,
            residual,
            output_grad,
        )
    }
}

/// The activation fused after a batch normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    /// `min(max(x, 0), 6)`, MobileNetV2's.
    Relu6,
}

impl Activation {
    /// The activation as separate tensor operations (evaluation, frozen layers). ReLU6 is
    /// `relu(x) − relu(x − 6)`: equal to the clamp for |x| < 2²³ (`x − 6` is then exact) and,
    /// under autodiff, two ReLU masks where Burn's clamp masks every element twice.
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::None => x,
            Self::Relu => relu(x),
            Self::Relu6 => relu(x.clone()) - relu(x - 6.0),
        }
    }
}

#[cfg(feature = "wgpu")]
impl TrainKernels for burn::backend::Cube {}

/// 2-D convolution of `x` `[N, C, H, W]` with `weight` `[O, C / groups, kh, kw]`, no bias;
/// equal to `burn::tensor::module::conv2d(x, weight, None, options)`, with faster gradients on
/// the CPU.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, options: ConvOptions<2>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as TrainKernels>::reid_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        options,
    ))
}

/// `act(bn.forward(input) + residual)`: the same results and running-statistics updates, with
/// the training pass (autodiff device, layer not frozen) fused on the CPU.
pub fn batch_norm<const D: usize>(
    bn: &BatchNorm,
    input: Tensor<D>,
    residual: Option<Tensor<D>>,
    act: Activation,
) -> Tensor<D> {
    if !(input.device().is_autodiff() && bn.training.is_enabled()) {
        let y = bn.forward(input);
        return act.apply(match residual {
            Some(r) => y + r,
            None => y,
        });
    }
    let device = input.device();
    let (x, gamma, beta) = (
        input.into_dispatch(),
        bn.gamma.val().into_dispatch(),
        bn.beta.val().into_dispatch(),
    );
    let (output, mean, variance) = match residual {
        Some(r) => <Dispatch as TrainKernels>::reid_batch_norm_add_train(
            x,
            gamma,
            beta,
            r.into_dispatch(),
            bn.epsilon,
            act,
        ),
        None => <Dispatch as TrainKernels>::reid_batch_norm_train(x, gamma, beta, bn.epsilon, act),
    };
    let update = |running: &burn::module::RunningState<Tensor<1>>, batch| {
        let batch = Tensor::<1>::from_dispatch(batch).detach();
        let value = running.value_sync().to_device(&device);
        let value = value.mul_scalar(1.0 - bn.momentum) + batch.mul_scalar(bn.momentum);
        running.update(value.detach());
    };
    update(&bn.running_mean, mean);
    update(&bn.running_var, variance);
    Tensor::from_dispatch(output)
}
