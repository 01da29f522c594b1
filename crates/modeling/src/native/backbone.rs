//! The backbones reid builds natively, chosen by `model.backbone` (TAO names): MobileNetV2 and
//! OSNet for CPU training, the ResNet family of TAO / BoT and the Swin Transformers of TAO
//! ReIdentificationNet Transformer; each maps its reference implementation's parameter names so
//! pretrained weights load (OSNet: torchreid's ONNX exports, see [`super::pretrained`]).

use super::mobilenet_v2::{self, MobileNetV2};
use super::osnet::{self, OsNet};
use super::resnet::{self, ResNet};
use super::swin::{self, Swin};
use burn::prelude::*;

/// Backbone names reid can build.
pub const BACKBONES: &[&str] = &[
    "mobilenet_v2",
    "osnet_x0_25",
    "osnet_x0_5",
    "osnet_x0_75",
    "osnet_x1_0",
    "resnet_18",
    "resnet_34",
    "resnet_50",
    "resnet_101",
    "swin_tiny_patch4_window7_224",
    "swin_small_patch4_window7_224",
    "swin_base_patch4_window7_224",
];

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
    /// The backbone called `name` (one of [`BACKBONES`]); OSNet and Swin have no
    /// `last_stride`.
    pub fn new(name: &str, last_stride: usize, device: &Device) -> Option<Self> {
        if name == "mobilenet_v2" {
            return Some(Self::MobileNetV2(MobileNetV2::new(last_stride, device)));
        }
        if let Some(widths) = osnet::widths(name) {
            return Some(Self::OsNet(OsNet::new(widths, device)));
        }
        if let Some(size) = swin::size(name) {
            return Some(Self::Swin(Swin::new(size, device)));
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
        if osnet::widths(name).is_some() {
            return Some(osnet::FEATURES);
        }
        if let Some(size) = swin::size(name) {
            return Some(size.channels());
        }
        resnet::depth(name).map(|(_, bottleneck)| ResNet::channels(bottleneck))
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
