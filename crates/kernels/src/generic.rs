//! Burn's own operations for what [`TrainKernels`](crate::TrainKernels) fuses: its defaults
//! (any backend) and the fallback of the `flex` kernels for the cases they do not cover.

use crate::Activation;
use burn::backend::Backend;
use burn::backend::tensor::FloatTensor;

/// Batch normalisation with the batch's statistics, `+ residual`, `act`: output, mean and
/// biased variance.
pub(crate) fn batch_norm_train<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    beta: FloatTensor<B>,
    residual: Option<FloatTensor<B>>,
    epsilon: f64,
    act: Activation,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let r = B::batch_norm_train(x, gamma, beta, epsilon);
    let y = match residual {
        Some(residual) => B::float_add(r.output, residual),
        None => r.output,
    };
    let y = match act {
        Activation::None => y,
        Activation::Relu => B::relu(y),
        Activation::Relu6 => B::float_clamp(y, 0f32.into(), 6f32.into()),
    };
    (y, r.mean, r.variance)
}

/// Gradients of [`batch_norm_train`]'s input, `gamma`, `beta` and, when `residual`, of the
/// residual; `output` is the forward's.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batch_norm_train_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    mean: FloatTensor<B>,
    variance: FloatTensor<B>,
    output: FloatTensor<B>,
    epsilon: f64,
    act: Activation,
    residual: bool,
    output_grad: FloatTensor<B>,
) -> (
    FloatTensor<B>,
    FloatTensor<B>,
    FloatTensor<B>,
    Option<FloatTensor<B>>,
) {
    // ReLU passes where y > 0; ReLU6 also where 6 − y > 0.
    let grad = match act {
        Activation::None => output_grad,
        Activation::Relu => B::relu_backward(output, output_grad),
        Activation::Relu6 => {
            let below = B::relu_backward(output.clone(), output_grad);
            let headroom = B::float_neg(B::float_sub_scalar(output, 6f32.into()));
            B::relu_backward(headroom, below)
        }
    };
    let residual_grad = residual.then(|| grad.clone());
    let r = B::batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
    (r.x_grad, r.gamma_grad, r.beta_grad, residual_grad)
}
