//! The backbones reid builds natively, chosen by `model.backbone` (TAO names): MobileNetV2 and
//! OSNet for CPU training, the ResNet family of TAO / BoT and the Swin Transformers of TAO
//! ReIdentificationNet Transformer; each maps its reference implementation's parameter names so
//! pretrained weights load (OSNet: torchreid's ONNX exports, see [`super::pretrained`]).

use super::mobilenet_v2::{self, MobileNetV2};
use super::osnet::{self, OsNet};
use super::resnet::{self, ResNet};
use super::swin::{self, Swin};
use burn::prelude::*;
use reid_config::BackboneKind;

/// One per network and never moved in hot code, so the variants' size difference is harmless.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Backbone {
    MobileNetV2(MobileNetV2),
    OsNet(OsNet),
    ResNet(ResNet),
    Swin(Swin),
}

impl Backbone {
    /// The network for `kind`; OSNet and Swin have no `last_stride`.
    pub fn new(kind: BackboneKind, last_stride: usize, device: &Device) -> Self {
        use BackboneKind as K;
        match kind {
            K::MobileNetV2 => Self::MobileNetV2(MobileNetV2::new(last_stride, device)),
            K::OsNetX0_25 | K::OsNetX0_5 | K::OsNetX0_75 | K::OsNetX1_0 => {
                Self::OsNet(OsNet::new(osnet::widths(kind), device))
            }
            K::SwinTiny | K::SwinSmall | K::SwinBase => {
                Self::Swin(Swin::new(swin::size(kind), device))
            }
            K::ResNet18 | K::ResNet34 | K::ResNet50 | K::ResNet101 => {
                let (blocks, bottleneck) = resnet::depth(kind);
                Self::ResNet(ResNet::new(blocks, bottleneck, last_stride, device))
            }
        }
    }

    /// Channels of the output feature map of a `kind` backbone.
    pub fn channels(kind: BackboneKind) -> usize {
        use BackboneKind as K;
        match kind {
            K::MobileNetV2 => mobilenet_v2::CHANNELS,
            K::OsNetX0_25 | K::OsNetX0_5 | K::OsNetX0_75 | K::OsNetX1_0 => osnet::FEATURES,
            K::SwinTiny | K::SwinSmall | K::SwinBase => swin::size(kind).channels(),
            K::ResNet18 | K::ResNet34 | K::ResNet50 | K::ResNet101 => {
                ResNet::channels(resnet::depth(kind).1)
            }
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::MobileNetV2(m) => m.forward(x),
            Self::OsNet(m) => m.forward(x),
            Self::ResNet(m) => m.forward(x),
            Self::Swin(m) => m.forward(x),
        }
    }

    /// The path inside this backbone of a parameter name of the reference implementation
    /// (torchvision; the original Swin), if it has one.
    pub fn torchvision_key(&self, name: &str) -> Option<String> {
        match self {
            Self::MobileNetV2(_) => mobilenet_v2::torchvision_key(name),
            Self::OsNet(_) => None,
            Self::ResNet(_) => resnet::torchvision_key(name),
            Self::Swin(_) => swin::torchvision_key(name),
        }
    }
}
