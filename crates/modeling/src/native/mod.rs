//! Networks reid builds and runs itself with Burn (the device is chosen at run time): layers,
//! backbones, the BNNeck network, training losses, checkpoints, pretrained weights, and the
//! [`NativeModel`] embedder that runs a checkpoint.

pub mod backbone;
pub mod checkpoint;
pub mod layers;
pub mod losses;
pub mod mobilenet_v2;
pub mod net;
pub mod osnet;
pub mod pretrained;
pub mod resnet;
pub mod swin;

use crate::embedder::Embedder;
use crate::error::ModelError;
use crate::sealed::ModelKey;
use burn::prelude::*;
use net::{NetConfig, ReidNet};
use reid_data::{Features, Preprocessor};
use std::path::{Path, PathBuf};

/// A native checkpoint opened for inference.
pub struct NativeModel {
    path: PathBuf,
    net: ReidNet,
    config: NetConfig,
    device: Device,
}

impl NativeModel {
    pub fn open(path: &Path, device: Device, key: Option<&ModelKey>) -> Result<Self, ModelError> {
        let (header, net, _) = checkpoint::load(path, &device, key)?;
        Ok(Self::from_net(path.to_owned(), net, header.net, device))
    }

    /// Wraps a network in memory (e.g. during training); `name` describes it in messages.
    pub fn from_net(name: PathBuf, net: ReidNet, config: NetConfig, device: Device) -> Self {
        Self {
            path: name,
            net,
            config,
            device,
        }
    }
}

impl Embedder for NativeModel {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn input_size(&self) -> (Option<u32>, Option<u32>) {
        (
            Some(self.config.input_height),
            Some(self.config.input_width),
        )
    }

    fn max_batch(&self) -> Option<usize> {
        None
    }

    fn preprocessor(&self) -> Option<Preprocessor> {
        Some(self.config.preprocessor())
    }

    fn embed(&mut self, tensor: &[f32], n: usize, h: u32, w: u32) -> Result<Features, ModelError> {
        let shape = [n, 3, h as usize, w as usize];
        let x = Tensor::<4>::from_data(TensorData::new(tensor.to_vec(), shape), &self.device);
        let out = self.net.embed(x, self.config.neck_feat);
        let dim = out.dims()[1];
        let data = out
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| ModelError::Run {
                path: self.path.clone(),
                message: format!("{e:?}"),
            })?;
        Ok(Features::from_rows(dim, data))
    }
}
