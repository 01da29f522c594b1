//! The backbones reid builds natively, chosen by `model.backbone` (TAO names): MobileNetV2 for
//! CPU training and the ResNet family of TAO / BoT; each maps torchvision's parameter names so
//! ImageNet weights load.

use super::mobilenet_v2::{self, MobileNetV2};
use super::resnet::{self, ResNet};
use burn::prelude::*;

/// Backbone names reid can build.
pub const BACKBONES: &[&str] = &[
    "mobilenet_v2",
    "resnet_18",
    "resnet_34",
    "resnet_50",
    "resnet_101",
];

/// One per network and never moved in hot code, so the variants' size difference is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Backbone {
    MobileNetV2(MobileNetV2),
    ResNet(ResNet),
}

impl Backbone {
    /// The backbone called `name` (one of [`BACKBONES`]).
    pub fn new(name: &str, last_stride: usize, device: &Device) -> Option<Self> {
        if name == "mobilenet_v2" {
            return Some(Self::MobileNetV2(MobileNetV2::new(last_stride, device)));
        }
        let (blocks, bottleneck) = resnet::depth(name)?;
        Some(Self::ResNet(ResNet::new(
            blocks,
            bottleneck,
            last_stride,
            device,
        )))
    }

    /// Channels of the output feature map of backbone `name`.
    pub fn channels(name: &str) -> Option<usize> {
        if name == "mobilenet_v2" {
            return Some(mobilenet_v2::CHANNELS);
        }
        resnet::depth(name).map(|(_, bottleneck)| ResNet::channels(bottleneck))
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::MobileNetV2(m) => m.forward(x),
            Self::ResNet(m) => m.forward(x),
        }
    }

    /// The path inside this backbone of a torchvision parameter name, if it has one.
    pub fn torchvision_key(&self, name: &str) -> Option<String> {
        match self {
            Self::MobileNetV2(_) => mobilenet_v2::torchvision_key(name),
            Self::ResNet(_) => resnet::torchvision_key(name),
        }
    }
}
