//! Building blocks shared by the native (Burn) networks: convolution and BatchNorm (through
//! reid-kernels' faster CPU training) + optional ReLU6, and the BNNeck embedding head of the BoT
//! recipe.

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::ops::ConvOptions;
use reid_config::NeckFeat;

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

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let conv = &self.conv;
        let [ph, pw] = conv.kernel_size.map(same_padding);
        let options = ConvOptions::new(conv.stride, [ph, pw], conv.dilation, conv.groups);
        let x = reid_kernels::conv2d(x, conv.weight.val(), options);
        let x = reid_kernels::batch_norm(&self.bn, x);
        if self.act { relu6(x) } else { x }
    }
}

/// Padding of a `kernel`-wide convolution that keeps the size at stride 1 (odd kernels).
fn same_padding(kernel: usize) -> usize {
    (kernel - 1) / 2
}

/// `min(max(x, 0), 6)` as `relu(x) − relu(x − 6)`: equal to the clamp for |x| < 2²³ (`x − 6` is
/// then exact, so `x − (x − 6)` is exactly 6), but trained through Burn's ReLU kernels, where
/// the clamp's autodiff masks every element twice (14 % of a MobileNetV2 training step on
/// `flex`, measured with perf).
pub fn relu6(x: Tensor<4>) -> Tensor<4> {
    relu(x.clone()) - relu(x - 6.0)
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
            Some(bn) => reid_kernels::batch_norm(bn, global),
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

    #[test]
    fn relu6_equals_the_clamp_and_passes_nan() {
        let device = Device::flex();
        let xs = [
            -1e6, -3.0, -0.0, 0.0, 1e-7, 2.5, 5.999_999, 6.0, 6.000_001, 7.25, 1e6, 8e6,
        ];
        let x = Tensor::<1>::from_floats(xs, &device).reshape([1, 1, 3, 4]);
        let ours = relu6(x.clone()).into_data().try_to_vec::<f32>().unwrap();
        let clamp = x.clamp(0.0, 6.0).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(ours, clamp);
        let nan = Tensor::<1>::from_floats([f32::NAN], &device).reshape([1, 1, 1, 1]);
        assert!(relu6(nan).into_scalar::<f32>().is_nan());
    }
}
