//! ResNet-18/34/50/101 (He et al. 2016, torchvision v1.5: the stride on the 3×3 convolution),
//! the TAO / BoT ReID backbones, with `last_stride` 1 keeping `layer4` at stride 1. Parameter
//! names map from torchvision's state dict by [`torchvision_key`], so ImageNet weights load.

use super::layers::{Activation, ConvBn};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use reid_config::BackboneKind;

/// A residual block: basic (two 3×3) or bottleneck (1×1 → 3×3 → 1×1 at 4× width).
#[derive(Module, Debug)]
pub struct Block {
    pub conv1: ConvBn,
    pub conv2: ConvBn,
    pub conv3: Option<ConvBn>,
    pub downsample: Option<ConvBn>,
}

impl Block {
    fn new(cin: usize, width: usize, stride: usize, bottleneck: bool, device: &Device) -> Self {
        let cout = if bottleneck { width * 4 } else { width };
        let downsample = (stride != 1 || cin != cout)
            .then(|| ConvBn::new([cin, cout], 1, stride, 1, false, device));
        if bottleneck {
            Self {
                conv1: ConvBn::new([cin, width], 1, 1, 1, false, device),
                conv2: ConvBn::new([width, width], 3, stride, 1, false, device),
                conv3: Some(ConvBn::new([width, cout], 1, 1, 1, false, device)),
                downsample,
            }
        } else {
            Self {
                conv1: ConvBn::new([cin, width], 3, stride, 1, false, device),
                conv2: ConvBn::new([width, width], 3, 1, 1, false, device),
                conv3: None,
                downsample,
            }
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let shortcut = match &self.downsample {
            Some(d) => d.forward(x.clone()),
            None => x.clone(),
        };
        let y = self.conv1.forward_with(x, None, Activation::Relu);
        match &self.conv3 {
            Some(c) => c.forward_with(
                self.conv2.forward_with(y, None, Activation::Relu),
                Some(shortcut),
                Activation::Relu,
            ),
            None => self.conv2.forward_with(y, Some(shortcut), Activation::Relu),
        }
    }
}

/// The backbone: 7×7 stem, max-pool, four stages.
#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: ConvBn,
    pub pool: MaxPool2d,
    pub layers: Vec<Vec<Block>>,
}

/// (blocks per stage, bottleneck) of a ResNet `kind` (ResNet-50 for every other kind).
pub fn depth(kind: BackboneKind) -> ([usize; 4], bool) {
    match kind {
        BackboneKind::ResNet18 => ([2, 2, 2, 2], false),
        BackboneKind::ResNet34 => ([3, 4, 6, 3], false),
        BackboneKind::ResNet101 => ([3, 4, 23, 3], true),
        _ => ([3, 4, 6, 3], true),
    }
}

impl ResNet {
    /// The network for `backbone` (see [`depth`]); `last_stride` is layer4's stride.
    pub fn new(blocks: [usize; 4], bottleneck: bool, last_stride: usize, device: &Device) -> Self {
        let mut cin = 64;
        let layers = [64, 128, 256, 512]
            .into_iter()
            .zip(blocks)
            .zip([1, 2, 2, last_stride])
            .map(|((width, n), stride)| {
                (0..n)
                    .map(|i| {
                        let b = Block::new(
                            cin,
                            width,
                            if i == 0 { stride } else { 1 },
                            bottleneck,
                            device,
                        );
                        cin = if bottleneck { width * 4 } else { width };
                        b
                    })
                    .collect()
            })
            .collect();
        Self {
            stem: ConvBn::new([3, 64], 7, 2, 1, false, device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layers,
        }
    }

    /// Output channels: 512 (basic blocks) or 2048 (bottlenecks).
    pub fn channels(bottleneck: bool) -> usize {
        if bottleneck { 2048 } else { 512 }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self
            .pool
            .forward(self.stem.forward_with(x, None, Activation::Relu));
        for stage in &self.layers {
            for block in stage {
                x = block.forward(x);
            }
        }
        x
    }
}

/// The Burn path of a torchvision ResNet parameter (`layer3.1.bn2.weight` →
/// `layers.2.1.conv2.bn.weight`); None for keys with no place here (`fc.*`, counters).
pub fn torchvision_key(name: &str) -> Option<String> {
    let conv_bn = |part: &str| -> Option<String> {
        let (kind, index) = part.split_at(part.len().checked_sub(1)?);
        let role = match kind {
            "conv" => "conv",
            "bn" => "bn",
            _ => return None,
        };
        matches!(index, "1" | "2" | "3").then(|| format!("conv{index}.{role}"))
    };
    let parts: Vec<&str> = name.split('.').collect();
    let leaf = *parts.last()?;
    if leaf == "num_batches_tracked" {
        return None;
    }
    match parts.as_slice() {
        ["conv1", _] => Some(format!("stem.conv.{leaf}")),
        ["bn1", _] => Some(format!("stem.bn.{leaf}")),
        [layer, block, "downsample", i, _] => {
            let stage = layer
                .strip_prefix("layer")?
                .parse::<usize>()
                .ok()?
                .checked_sub(1)?;
            let role = match *i {
                "0" => "conv",
                "1" => "bn",
                _ => return None,
            };
            Some(format!("layers.{stage}.{block}.downsample.{role}.{leaf}"))
        }
        [layer, block, part, _] => {
            let stage = layer
                .strip_prefix("layer")?
                .parse::<usize>()
                .ok()?
                .checked_sub(1)?;
            Some(format!("layers.{stage}.{block}.{}.{leaf}", conv_bn(part)?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchvision_names_map_to_burn_paths() {
        assert_eq!(torchvision_key("conv1.weight").unwrap(), "stem.conv.weight");
        assert_eq!(
            torchvision_key("bn1.running_var").unwrap(),
            "stem.bn.running_var"
        );
        assert_eq!(
            torchvision_key("layer3.1.bn2.weight").unwrap(),
            "layers.2.1.conv2.bn.weight"
        );
        assert_eq!(
            torchvision_key("layer1.0.conv3.weight").unwrap(),
            "layers.0.0.conv3.conv.weight"
        );
        assert_eq!(
            torchvision_key("layer4.0.downsample.1.bias").unwrap(),
            "layers.3.0.downsample.bn.bias"
        );
        assert_eq!(torchvision_key("fc.weight"), None);
        assert_eq!(torchvision_key("layer2.0.bn1.num_batches_tracked"), None);
    }

    #[test]
    fn shapes_follow_last_stride() {
        let device = Device::flex();
        for (name, ls, channels, h) in [
            (BackboneKind::ResNet18, 1, 512, 8),
            (BackboneKind::ResNet50, 2, 2048, 4),
        ] {
            let (blocks, bottleneck) = depth(name);
            let net = ResNet::new(blocks, bottleneck, ls, &device);
            let out = net.forward(Tensor::zeros([1, 3, 128, 64], &device));
            assert_eq!(out.dims(), [1, channels, h, h / 2], "{name}");
            assert_eq!(ResNet::channels(bottleneck), channels);
        }
    }
}
