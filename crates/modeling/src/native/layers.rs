//! Building blocks shared by the native (Burn) networks: convolution and BatchNorm with an
//! optional residual sum and activation (fused by reid-kernels in CPU training), and the BNNeck
//! embedding head of the BoT recipe.

use burn::module::{Param, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use reid_config::NeckFeat;
pub use reid_kernels::Activation;

/// `k × k` convolution (no bias, "same" padding, optional groups) → BatchNorm → ReLU6 if `act`.
#[derive(Module, Debug)]
pub struct ConvBn {
    pub conv: Conv2d,
    pub bn: BatchNorm,
    pub act: bool,
}

impl ConvBn {
    pub fn new(
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
        groups: usize,
        act: bool,
        device: &Device,
    ) -> Self {
        let p = same_padding(kernel);
        Self {
            conv: Conv2dConfig::new(channels, [kernel, kernel])
                .with_stride([stride, stride])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_groups(groups)
                .with_bias(false)
                .init(device),
            bn: BatchNormConfig::new(channels[1]).init(device),
            act,
        }
    }

    /// Convolution → BatchNorm → ReLU6 if `act`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let act = if self.act {
            Activation::Relu6
        } else {
            Activation::None
        };
        self.forward_with(x, None, act)
    }

    /// `act(BatchNorm(conv(x)) + residual)`.
    pub fn forward_with(
        &self,
        x: Tensor<4>,
        residual: Option<Tensor<4>>,
        act: Activation,
    ) -> Tensor<4> {
        reid_kernels::batch_norm(&self.bn, conv(&self.conv, x), residual, act)
    }
}

/// A bias-free "same"-padded convolution through reid-kernels.
pub fn conv(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let [ph, pw] = conv.kernel_size.map(same_padding);
    let options = ConvOptions::new(conv.stride, [ph, pw], conv.dilation, conv.groups);
    reid_kernels::conv2d(x, conv.weight.val(), options)
}

/// Gives `param` the value `value`, keeping its id and whether it is trained.
pub fn replace<const D: usize>(param: &mut Param<Tensor<D>>, value: Tensor<D>) {
    let value = value.set_require_grad(param.is_require_grad());
    *param = param.clone().map(|_| value);
}

/// Sets `bn`'s running statistics to `mean` / `var` and rescales γ and β so that its
/// evaluation-mode output stays the same: the layer then normalises a batch with those
/// statistics as it did before (data-dependent re-initialisation, e.g. of folded weights).
pub fn set_statistics(bn: &mut BatchNorm, mean: Tensor<1>, var: Tensor<1>) {
    let eps = bn.epsilon;
    let scale = bn.gamma.val() / (bn.running_var.value() + eps).sqrt();
    let gamma = scale.clone() * (var.clone() + eps).sqrt();
    let beta = bn.beta.val() + (mean.clone() - bn.running_mean.value()) * scale;
    replace(&mut bn.gamma, gamma);
    replace(&mut bn.beta, beta);
    bn.running_mean = RunningState::new(mean);
    bn.running_var = RunningState::new(var);
}

/// Padding of a `kernel`-wide convolution that keeps the size at stride 1 (odd kernels).
fn same_padding(kernel: usize) -> usize {
    (kernel - 1) / 2
}

/// Global average pooling → optional linear reduction to `feat_dim` → BatchNorm1d neck (its
/// bias frozen in training, BoT) → linear classifier without bias.
#[derive(Module, Debug)]
pub struct BnNeckHead {
    pub pool: AdaptiveAvgPool2d,
    pub reduction: Option<Linear>,
    pub bnneck: Option<BatchNorm>,
    pub classifier: Linear,
}

impl BnNeckHead {
    pub fn new(
        in_channels: usize,
        feat_dim: usize,
        bnneck: bool,
        num_classes: usize,
        device: &Device,
    ) -> Self {
        Self {
            pool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            reduction: (feat_dim != in_channels).then(|| {
                LinearConfig::new(in_channels, feat_dim)
                    .with_bias(false)
                    .init(device)
            }),
            bnneck: bnneck.then(|| BatchNormConfig::new(feat_dim).init(device)),
            classifier: LinearConfig::new(feat_dim, num_classes)
                .with_bias(false)
                .init(device),
        }
    }

    fn global(&self, fmap: Tensor<4>) -> Tensor<2> {
        let g: Tensor<2> = self.pool.forward(fmap).flatten(1, 3);
        match &self.reduction {
            Some(r) => r.forward(g),
            None => g,
        }
    }

    fn neck(&self, global: Tensor<2>) -> Tensor<2> {
        match &self.bnneck {
            Some(bn) => reid_kernels::batch_norm(bn, global, None, Activation::None),
            None => global,
        }
    }

    /// Training outputs: the global feature (for the metric losses) and the classifier logits
    /// (computed from the neck's output).
    pub fn forward_train(&self, fmap: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let g = self.global(fmap);
        let logits = self.classifier.forward(self.neck(g.clone()));
        (g, logits)
    }

    /// The embedding at test time.
    pub fn embed(&self, fmap: Tensor<4>, neck_feat: NeckFeat) -> Tensor<2> {
        let g = self.global(fmap);
        match neck_feat {
            NeckFeat::Before => g,
            NeckFeat::After => self.neck(g),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn new_statistics_keep_the_evaluation_function() {
        let device = Device::flex();
        let mut bn = BatchNormConfig::new(3).init(&device);
        let rand = |shape: [usize; 1], lo: f64| {
            Tensor::<1>::random(shape, Distribution::Uniform(lo, 2.0), &device)
        };
        replace(&mut bn.gamma, rand([3], 0.5));
        replace(&mut bn.beta, rand([3], -1.0));
        bn.running_mean = RunningState::new(rand([3], -1.0));
        bn.running_var = RunningState::new(rand([3], 0.1));
        let x = Tensor::<4>::random([2, 3, 4, 5], Distribution::Normal(0.3, 2.0), &device);
        let before = bn.forward(x.clone());
        set_statistics(&mut bn, rand([3], -1.0), rand([3], 0.1));
        let after = bn.forward(x);
        let diff: f32 = (after - before).abs().max().into_scalar();
        assert!(diff < 1e-5, "{diff}");
    }
}
