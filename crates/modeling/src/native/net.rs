//! The native ReID network: a backbone and the BNNeck head, described by [`NetConfig`] (which
//! a checkpoint stores next to the weights, with the pre-processing the network expects).

use super::backbone::Backbone;
use super::layers::BnNeckHead;
use crate::error::ModelError;
use burn::prelude::*;
use reid_config::{BackboneKind, ChannelOrder, Neck, NeckFeat, Spec};
use reid_data::Preprocessor;
use serde::{Deserialize, Serialize};

/// Everything needed to rebuild a network and feed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    pub backbone: BackboneKind,
    pub last_stride: usize,
    pub feat_dim: usize,
    pub neck: Neck,
    pub neck_feat: NeckFeat,
    pub num_classes: usize,
    pub input_height: u32,
    pub input_width: u32,
    pub pixel_mean: [f32; 3],
    pub pixel_std: [f32; 3],
    pub channel_order: ChannelOrder,
}

impl NetConfig {
    /// The network the spec's `model.*` and `dataset.*` keys describe.
    pub fn from_spec(spec: &Spec) -> Result<Self, ModelError> {
        let m = &spec.model;
        if !matches!(m.last_stride, 1 | 2) {
            return Err(ModelError::Config(
                "model.last_stride must be 1 or 2".into(),
            ));
        }
        let pre = Preprocessor::from_spec(spec);
        Ok(Self {
            backbone: m.backbone,
            last_stride: m.last_stride as usize,
            feat_dim: m.feat_dim as usize,
            neck: m.neck,
            neck_feat: m.neck_feat,
            num_classes: spec.dataset.num_classes as usize,
            input_height: pre.height,
            input_width: pre.width,
            pixel_mean: pre.mean,
            pixel_std: pre.std,
            channel_order: pre.channel_order,
        })
    }

    /// The pre-processing the network was built for.
    pub fn preprocessor(&self) -> Preprocessor {
        Preprocessor {
            height: self.input_height,
            width: self.input_width,
            mean: self.pixel_mean,
            std: self.pixel_std,
            channel_order: self.channel_order,
        }
    }
}

/// Backbone + head.
#[derive(Module, Debug)]
pub struct ReidNet {
    pub backbone: Backbone,
    pub head: BnNeckHead,
}

impl ReidNet {
    /// A freshly initialised network on `device`.
    pub fn new(config: &NetConfig, device: &Device) -> Self {
        Self {
            backbone: Backbone::new(config.backbone, config.last_stride, device),
            head: BnNeckHead::new(
                Backbone::channels(config.backbone),
                config.feat_dim,
                config.neck == Neck::BnNeck,
                config.num_classes,
                device,
            ),
        }
    }

    /// Training outputs of an NCHW batch: (global feature, classifier logits).
    pub fn forward_train(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        self.head.forward_train(self.backbone.forward(x))
    }

    /// Test-time embeddings of an NCHW batch.
    pub fn embed(&self, x: Tensor<4>, neck_feat: NeckFeat) -> Tensor<2> {
        self.head.embed(self.backbone.forward(x), neck_feat)
    }
}
