//! OSNet (Zhou et al., "Omni-Scale Feature Learning for Person Re-Identification", ICCV 2019)
//! laid out as torchreid builds it: omni-scale residual blocks whose four streams of one to four
//! lite 3×3 convolutions are mixed by a shared channel gate, then a 512-d fc embedding
//! (Linear → BatchNorm → ReLU), at widths x1.0 … x0.25. Loads torchreid's ReID-trained weights
//! from their ONNX export ([`OsNet::load_folded`]: BatchNorm folded into the convolutions) and
//! re-estimates BatchNorm statistics on data without changing the function
//! ([`OsNet::calibrate`]) so that fine-tuning starts from the trained network.

use super::layers::{self, Activation, ConvBn};
use burn::module::{Param, ParamId, RunningState};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use reid_config::BackboneKind;
use std::cell::RefCell;
use std::collections::HashMap;

/// Dimension of the embedding OSNet outputs (its fc layer).
pub const FEATURES: usize = 512;

/// Channels of the stem and of the three stages of an OSNet `kind` (x1.0 for every other kind).
pub fn widths(kind: BackboneKind) -> [usize; 4] {
    let base = [64, 256, 384, 512];
    let quarters = match kind {
        BackboneKind::OsNetX0_75 => 3,
        BackboneKind::OsNetX0_5 => 2,
        BackboneKind::OsNetX0_25 => 1,
        _ => 4,
    };
    base.map(|c| c * quarters / 4)
}

/// Weights of a torchreid OSNet with BatchNorm folded into each convolution, by torchreid module
/// path (`conv2.0.conv2b.1.conv2`): the node's weight tensors in ONNX input order (convolution:
/// weight, bias; Gemm: weight, bias; BatchNormalization: scale, shift, mean, variance).
pub type FoldedWeights = HashMap<String, Vec<TensorData>>;

/// 1×1 linear convolution, then depthwise 3×3 → BatchNorm → ReLU (torchreid's LightConv3x3).
#[derive(Module, Debug)]
pub struct LiteConv {
    pub conv1: Conv2d,
    pub conv2: ConvBn,
}

/// Squeeze-and-excitation gate shared by the four streams of a block.
#[derive(Module, Debug)]
pub struct ChannelGate {
    pub fc1: Linear,
    pub fc2: Linear,
}

/// 1×1 reduction to a quarter of the channels, four streams (1–4 lite convolutions) summed
/// through the gate, 1×1 expansion, residual, ReLU.
#[derive(Module, Debug)]
pub struct OsBlock {
    pub conv1: ConvBn,
    pub streams: Vec<Vec<LiteConv>>,
    pub gate: ChannelGate,
    pub conv3: ConvBn,
    pub downsample: Option<ConvBn>,
}

/// Two blocks, then (conv2, conv3) a 1×1 convolution and 2×2 average pooling.
#[derive(Module, Debug)]
pub struct Stage {
    pub blocks: Vec<OsBlock>,
    pub transition: Option<ConvBn>,
    pub pool: AvgPool2d,
}

/// The network up to its 512-d embedding, returned as a `[N, 512, 1, 1]` map.
#[derive(Module, Debug)]
pub struct OsNet {
    pub conv1: ConvBn,
    pub pool: MaxPool2d,
    pub stages: Vec<Stage>,
    pub conv5: ConvBn,
    pub fc: Linear,
    pub fc_bn: BatchNorm,
}

/// How a forward pass applies each BatchNorm: as the network does, or also recording the
/// per-channel statistics of its input (for [`OsNet::calibrate`]).
trait Norm {
    /// Sees the input of BatchNorm `bn` before it is applied.
    fn observe<const D: usize>(&self, _bn: &BatchNorm, _x: &Tensor<D>) {}

    fn apply<const D: usize>(
        &self,
        bn: &BatchNorm,
        x: Tensor<D>,
        residual: Option<Tensor<D>>,
        act: Activation,
    ) -> Tensor<D> {
        self.observe(bn, &x);
        reid_kernels::batch_norm(bn, x, residual, act)
    }

    fn conv_bn(
        &self,
        layer: &ConvBn,
        x: Tensor<4>,
        residual: Option<Tensor<4>>,
        act: Activation,
    ) -> Tensor<4> {
        self.apply(&layer.bn, layers::conv(&layer.conv, x), residual, act)
    }
}

struct Apply;

impl Norm for Apply {}

/// Mean and (biased) variance per channel of each BatchNorm's input, by the id of its γ.
#[derive(Default)]
struct Record(RefCell<HashMap<ParamId, (Tensor<1>, Tensor<1>)>>);

impl Norm for Record {
    fn observe<const D: usize>(&self, bn: &BatchNorm, x: &Tensor<D>) {
        let c = x.dims()[1];
        let per_channel: Tensor<2> = x.clone().swap_dims(0, 1).reshape([c as i32, -1]);
        let mean = per_channel.clone().mean_dim(1);
        let var = (per_channel - mean.clone()).powi_scalar(2).mean_dim(1);
        self.0
            .borrow_mut()
            .insert(bn.gamma.id, (mean.reshape([c]), var.reshape([c])));
    }
}

fn pointwise(channels: [usize; 2], device: &Device) -> Conv2d {
    Conv2dConfig::new(channels, [1, 1])
        .with_bias(false)
        .init(device)
}

impl LiteConv {
    fn new(channels: usize, device: &Device) -> Self {
        Self {
            conv1: pointwise([channels, channels], device),
            conv2: ConvBn::new([channels, channels], 3, 1, channels, false, device),
        }
    }

    fn forward(&self, x: Tensor<4>, n: &impl Norm) -> Tensor<4> {
        n.conv_bn(
            &self.conv2,
            layers::conv(&self.conv1, x),
            None,
            Activation::Relu,
        )
    }
}

impl ChannelGate {
    fn new(channels: usize, device: &Device) -> Self {
        let hidden = (channels / 16).max(1);
        Self {
            fc1: LinearConfig::new(channels, hidden).init(device),
            fc2: LinearConfig::new(hidden, channels).init(device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, _, _] = x.dims();
        let squeezed: Tensor<2> = x.clone().mean_dim(3).mean_dim(2).reshape([b, c]);
        let gate = sigmoid(self.fc2.forward(relu(self.fc1.forward(squeezed))));
        x * gate.reshape([b, c, 1, 1])
    }
}

impl OsBlock {
    fn new(cin: usize, cout: usize, device: &Device) -> Self {
        let mid = cout / 4;
        Self {
            conv1: ConvBn::new([cin, mid], 1, 1, 1, false, device),
            streams: (1..=4)
                .map(|depth| (0..depth).map(|_| LiteConv::new(mid, device)).collect())
                .collect(),
            gate: ChannelGate::new(mid, device),
            conv3: ConvBn::new([mid, cout], 1, 1, 1, false, device),
            downsample: (cin != cout).then(|| ConvBn::new([cin, cout], 1, 1, 1, false, device)),
        }
    }

    fn forward(&self, x: Tensor<4>, n: &impl Norm) -> Tensor<4> {
        let x1 = n.conv_bn(&self.conv1, x.clone(), None, Activation::Relu);
        let mixed = self
            .streams
            .iter()
            .map(|stream| {
                let y = stream.iter().fold(x1.clone(), |y, l| l.forward(y, n));
                self.gate.forward(y)
            })
            .reduce(|a, b| a + b)
            .unwrap_or(x1);
        let identity = match &self.downsample {
            Some(d) => n.conv_bn(d, x, None, Activation::None),
            None => x,
        };
        n.conv_bn(&self.conv3, mixed, Some(identity), Activation::Relu)
    }
}

impl Stage {
    fn new(cin: usize, cout: usize, reduce: bool, device: &Device) -> Self {
        Self {
            blocks: vec![
                OsBlock::new(cin, cout, device),
                OsBlock::new(cout, cout, device),
            ],
            transition: reduce.then(|| ConvBn::new([cout, cout], 1, 1, 1, false, device)),
            pool: AvgPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        }
    }

    fn forward(&self, x: Tensor<4>, n: &impl Norm) -> Tensor<4> {
        let x = self.blocks.iter().fold(x, |x, b| b.forward(x, n));
        match &self.transition {
            Some(t) => self.pool.forward(n.conv_bn(t, x, None, Activation::Relu)),
            None => x,
        }
    }
}

impl OsNet {
    /// The network at `widths` (see [`widths`]).
    pub fn new(widths: [usize; 4], device: &Device) -> Self {
        let [c0, c1, c2, c3] = widths;
        Self {
            conv1: ConvBn::new([3, c0], 7, 2, 1, false, device),
            pool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            stages: vec![
                Stage::new(c0, c1, true, device),
                Stage::new(c1, c2, true, device),
                Stage::new(c2, c3, false, device),
            ],
            conv5: ConvBn::new([c3, c3], 1, 1, 1, false, device),
            fc: LinearConfig::new(c3, FEATURES).init(device),
            fc_bn: BatchNormConfig::new(FEATURES).init(device),
        }
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.run(x, &Apply)
    }

    fn run(&self, x: Tensor<4>, n: &impl Norm) -> Tensor<4> {
        let x = self
            .pool
            .forward(n.conv_bn(&self.conv1, x, None, Activation::Relu));
        let x = self.stages.iter().fold(x, |x, s| s.forward(x, n));
        let x = n.conv_bn(&self.conv5, x, None, Activation::Relu);
        let [b, c, _, _] = x.dims();
        let pooled: Tensor<2> = x.mean_dim(3).mean_dim(2).reshape([b, c]);
        let embedding = n.apply(&self.fc_bn, self.fc.forward(pooled), None, Activation::Relu);
        embedding.reshape([b, FEATURES, 1, 1])
    }

    /// Sets every BatchNorm's running statistics to those of its input on the batch `x` (run in
    /// evaluation mode, on a non-autodiff device), rescaling γ and β so that the network computes
    /// the same function: training-mode batches then normalise as the trained network did.
    pub fn calibrate(&mut self, x: Tensor<4>) {
        let record = Record::default();
        self.run(x, &record);
        let mut stats = record.0.into_inner();
        for bn in self.batch_norms_mut() {
            if let Some((mean, var)) = stats.remove(&bn.gamma.id) {
                layers::set_statistics(bn, mean, var);
            }
        }
    }

    fn batch_norms_mut(&mut self) -> Vec<&mut BatchNorm> {
        let mut out = vec![&mut self.conv1.bn, &mut self.conv5.bn, &mut self.fc_bn];
        for stage in &mut self.stages {
            for block in &mut stage.blocks {
                out.push(&mut block.conv1.bn);
                out.push(&mut block.conv3.bn);
                out.extend(block.downsample.as_mut().map(|d| &mut d.bn));
                for lite in block.streams.iter_mut().flatten() {
                    out.push(&mut lite.conv2.bn);
                }
            }
            out.extend(stage.transition.as_mut().map(|t| &mut t.bn));
        }
        out
    }

    /// Loads torchreid weights with folded BatchNorm (`weights`, consumed as used); returns the
    /// torchreid paths the network needs that `weights` lacks (those layers keep their
    /// initialisation). BatchNorms of folded layers get identity statistics: call
    /// [`OsNet::calibrate`] before training.
    pub fn load_folded(&mut self, weights: &mut FoldedWeights) -> Result<Vec<String>, String> {
        let mut l = Loader {
            weights,
            missing: Vec::new(),
        };
        l.conv_bn(&mut self.conv1, "conv1.conv")?;
        for (s, stage) in self.stages.iter_mut().enumerate() {
            let name = format!("conv{}", s + 2);
            for (i, block) in stage.blocks.iter_mut().enumerate() {
                let p = format!("{name}.{i}");
                l.conv_bn(&mut block.conv1, &format!("{p}.conv1.conv"))?;
                for (stream, letter) in block.streams.iter_mut().zip(["a", "b", "c", "d"]) {
                    let single = stream.len() == 1;
                    for (j, lite) in stream.iter_mut().enumerate() {
                        // torchreid's conv2a is one LightConv3x3, conv2b–d are Sequentials.
                        let q = if single {
                            format!("{p}.conv2{letter}")
                        } else {
                            format!("{p}.conv2{letter}.{j}")
                        };
                        l.conv(&mut lite.conv1, &format!("{q}.conv1"))?;
                        l.conv_bn(&mut lite.conv2, &format!("{q}.conv2"))?;
                    }
                }
                l.linear(&mut block.gate.fc1, &format!("{p}.gate.fc1"))?;
                l.linear(&mut block.gate.fc2, &format!("{p}.gate.fc2"))?;
                l.conv_bn(&mut block.conv3, &format!("{p}.conv3.conv"))?;
                if let Some(d) = &mut block.downsample {
                    l.conv_bn(d, &format!("{p}.downsample.conv"))?;
                }
            }
            if let Some(t) = &mut stage.transition {
                l.conv_bn(t, &format!("{name}.2.0.conv"))?;
            }
        }
        l.conv_bn(&mut self.conv5, "conv5.conv")?;
        l.linear(&mut self.fc, "fc.0")?;
        l.batch_norm(&mut self.fc_bn, "fc.1")?;
        Ok(l.missing)
    }
}

/// Moves folded weights into layers, checking shapes.
struct Loader<'a> {
    weights: &'a mut FoldedWeights,
    missing: Vec<String>,
}

impl Loader<'_> {
    /// The `n` tensors of `key` (None, noted missing, if the file lacks it).
    fn take(&mut self, key: &str, n: usize) -> Result<Option<Vec<TensorData>>, String> {
        match self.weights.remove(key) {
            Some(t) if t.len() >= n => Ok(Some(t)),
            Some(t) => Err(format!("{key}: {} weight tensors, expected {n}", t.len())),
            None => {
                self.missing.push(key.to_owned());
                Ok(None)
            }
        }
    }

    fn conv(&mut self, conv: &mut Conv2d, key: &str) -> Result<(), String> {
        if let Some(t) = self.take(key, 1)? {
            set(&mut conv.weight, key, &t[0])?;
        }
        Ok(())
    }

    /// A folded convolution: its weight, and its bias as the BatchNorm's shift (identity
    /// statistics, γ = √(1 + ε) so that evaluation computes exactly `W·x + b`).
    fn conv_bn(&mut self, layer: &mut ConvBn, key: &str) -> Result<(), String> {
        let Some(t) = self.take(key, 1)? else {
            return Ok(());
        };
        set(&mut layer.conv.weight, key, &t[0])?;
        let bn = &mut layer.bn;
        let [c] = bn.gamma.dims();
        let device = bn.gamma.device();
        let gamma = Tensor::full([c], (1.0 + bn.epsilon).sqrt(), &device);
        layers::replace(&mut bn.gamma, gamma);
        bn.running_mean = RunningState::new(Tensor::zeros([c], &device));
        bn.running_var = RunningState::new(Tensor::ones([c], &device));
        match t.get(1) {
            Some(bias) => set(&mut bn.beta, key, bias)?,
            None => {
                let zeros = bn.beta.val().zeros_like();
                layers::replace(&mut bn.beta, zeros);
            }
        }
        Ok(())
    }

    /// A Gemm (`[out, in]`) or 1×1 convolution (`[out, in, 1, 1]`) with bias, as a Burn
    /// `Linear` (`[in, out]`).
    fn linear(&mut self, linear: &mut Linear, key: &str) -> Result<(), String> {
        let Some(t) = self.take(key, 2)? else {
            return Ok(());
        };
        let [din, dout] = linear.weight.dims();
        let w = &t[0];
        if w.num_elements() != din * dout || w.shape()[0] != dout {
            return Err(format!(
                "{key}: weight of shape {:?} where the network has [{dout}, {din}]",
                w.shape()
            ));
        }
        let device = linear.weight.device();
        let values = w.try_to_vec::<f32>().map_err(|e| format!("{key}: {e:?}"))?;
        let w = Tensor::<2>::from_data(TensorData::new(values, [dout, din]), &device).transpose();
        layers::replace(&mut linear.weight, w);
        if let Some(b) = &mut linear.bias {
            set(b, key, &t[1])?;
        }
        Ok(())
    }

    fn batch_norm(&mut self, bn: &mut BatchNorm, key: &str) -> Result<(), String> {
        let Some(t) = self.take(key, 4)? else {
            return Ok(());
        };
        set(&mut bn.gamma, key, &t[0])?;
        set(&mut bn.beta, key, &t[1])?;
        let [c] = bn.gamma.dims();
        let device = bn.gamma.device();
        let stat = |i: usize| -> Result<Tensor<1>, String> {
            check(key, &t[i], &[c])?;
            Ok(Tensor::from_data(t[i].clone(), &device))
        };
        bn.running_mean = RunningState::new(stat(2)?);
        bn.running_var = RunningState::new(stat(3)?);
        Ok(())
    }
}

fn check(key: &str, data: &TensorData, dims: &[usize]) -> Result<(), String> {
    if data.shape().as_slice() != dims {
        return Err(format!(
            "{key}: weight of shape {:?} where the network has {dims:?}",
            data.shape()
        ));
    }
    Ok(())
}

/// Replaces `param`'s value by `data` (same shape required), keeping its id and training state.
fn set<const D: usize>(
    param: &mut Param<Tensor<D>>,
    key: &str,
    data: &TensorData,
) -> Result<(), String> {
    check(key, data, &param.dims())?;
    let value = Tensor::from_data(data.clone(), &param.device());
    layers::replace(param, value);
    Ok(())
}
