//! MobileNetV2 (Sandler et al. 2018), the light CPU backbone, laid out like torchvision's
//! `features` so that ImageNet weights load by name (see [`torchvision_key`]). Output stride 32,
//! or 16 with `last_stride: 1`; 1280 channels.

use super::layers::{Activation, ConvBn};
use burn::prelude::*;

/// Expansion → depthwise 3×3 → linear projection, with a residual when shapes allow.
#[derive(Module, Debug)]
pub struct InvertedResidual {
    pub expand: Option<ConvBn>,
    pub dw: ConvBn,
    pub project: ConvBn,
    pub residual: bool,
}

impl InvertedResidual {
    fn new(cin: usize, cout: usize, stride: usize, expansion: usize, device: &Device) -> Self {
        let hidden = cin * expansion;
        Self {
            expand: (expansion != 1).then(|| ConvBn::new([cin, hidden], 1, 1, 1, true, device)),
            dw: ConvBn::new([hidden, hidden], 3, stride, hidden, true, device),
            project: ConvBn::new([hidden, cout], 1, 1, 1, false, device),
            residual: stride == 1 && cin == cout,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let y = match &self.expand {
            Some(e) => e.forward(x.clone()),
            None => x.clone(),
        };
        let residual = self.residual.then_some(x);
        self.project
            .forward_with(self.dw.forward(y), residual, Activation::None)
    }
}

/// The backbone: stem, 17 inverted residual blocks, 1×1 conv to 1280 channels.
#[derive(Module, Debug)]
pub struct MobileNetV2 {
    pub stem: ConvBn,
    pub blocks: Vec<InvertedResidual>,
    pub last: ConvBn,
}

/// Output channels of [`MobileNetV2`].
pub const CHANNELS: usize = 1280;

impl MobileNetV2 {
    /// `last_stride` 1 keeps the last downsampling stage at stride 1 (as ReID ResNets do).
    pub fn new(last_stride: usize, device: &Device) -> Self {
        // torchvision's inverted_residual_setting: expansion t, channels c, repeats n, stride s.
        let setting = [
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, last_stride),
            (6, 320, 1, 1),
        ];
        let mut blocks = Vec::new();
        let mut cin = 32;
        for (t, c, n, s) in setting {
            for i in 0..n {
                blocks.push(InvertedResidual::new(
                    cin,
                    c,
                    if i == 0 { s } else { 1 },
                    t,
                    device,
                ));
                cin = c;
            }
        }
        Self {
            stem: ConvBn::new([3, 32], 3, 2, 1, true, device),
            blocks,
            last: ConvBn::new([320, CHANNELS], 1, 1, 1, true, device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self
            .blocks
            .iter()
            .fold(self.stem.forward(x), |x, b| b.forward(x));
        self.last.forward(x)
    }
}

/// The module path of a torchvision `features.*` tensor name (None for tensors Burn does not
/// keep, i.e. `num_batches_tracked`, and for names outside the backbone).
pub fn torchvision_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix("features.")?;
    if rest.ends_with(".num_batches_tracked") {
        return None;
    }
    let parts: Vec<&str> = rest.split('.').collect();
    let (index, leaf) = (parts.first()?.parse::<usize>().ok()?, *parts.last()?);
    let conv_or_bn = |i: &str| if i == "0" { "conv" } else { "bn" };
    match (index, parts.as_slice()) {
        (0, [_, i, _]) => Some(format!("stem.{}.{leaf}", conv_or_bn(i))),
        (18, [_, i, _]) => Some(format!("last.{}.{leaf}", conv_or_bn(i))),
        (1..=17, [_, "conv", i, _]) => {
            // torchvision's flat `conv` Sequential: [expand conv, bn, relu,] dw conv, bn, relu, project conv, bn.
            let layers: &[&str] = if index == 1 {
                &["dw.conv", "dw.bn", "", "project.conv", "project.bn"]
            } else {
                &[
                    "expand.conv",
                    "expand.bn",
                    "",
                    "dw.conv",
                    "dw.bn",
                    "",
                    "project.conv",
                    "project.bn",
                ]
            };
            let layer = layers
                .get(i.parse::<usize>().ok()?)
                .filter(|l| !l.is_empty())?;
            Some(format!("blocks.{}.{layer}.{leaf}", index - 1))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::torchvision_key;

    #[test]
    fn maps_torchvision_names() {
        assert_eq!(
            torchvision_key("features.0.0.weight").as_deref(),
            Some("stem.conv.weight")
        );
        assert_eq!(
            torchvision_key("features.0.1.running_var").as_deref(),
            Some("stem.bn.running_var")
        );
        assert_eq!(
            torchvision_key("features.1.conv.3.weight").as_deref(),
            Some("blocks.0.project.conv.weight")
        );
        assert_eq!(
            torchvision_key("features.5.conv.4.bias").as_deref(),
            Some("blocks.4.dw.bn.bias")
        );
        assert_eq!(
            torchvision_key("features.18.1.weight").as_deref(),
            Some("last.bn.weight")
        );
        assert_eq!(
            torchvision_key("features.3.conv.1.num_batches_tracked"),
            None
        );
        assert_eq!(torchvision_key("features.3.conv.2.weight"), None);
        assert_eq!(torchvision_key("classifier.1.weight"), None);
    }
}
