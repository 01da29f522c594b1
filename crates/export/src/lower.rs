//! The native network as ONNX nodes, module by module: every convolution with its BatchNorm
//! folded in (`W·s`, `β − μ·s` with `s = γ/√(σ² + ε)`), ReLU / ReLU6 as marked activations
//! (nodes in float graphs, quantiser clamps in INT8 ones), ResNet's max-pool and residual adds,
//! and the BNNeck head (kept in float) as global average pooling, the optional reduction
//! `MatMul` and the neck's BatchNorm as a per-channel multiply-add. OSNet lives in [`osnet`],
//! Swin in [`swin`].

mod osnet;
mod swin;

use crate::ExportError;
use crate::graph::{Act, GraphBuilder, int, ints};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::{BatchNorm, Linear, PaddingConfig2d};
use burn::prelude::*;
use reid_config::NeckFeat;
use reid_modeling::native::backbone::Backbone;
use reid_modeling::native::layers::{BnNeckHead, ConvBn};
use reid_modeling::native::mobilenet_v2::MobileNetV2;
use reid_modeling::native::net::ReidNet;
use reid_modeling::native::resnet::ResNet;

pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ExportError> {
    t.into_data()
        .try_into_vec::<f32>()
        .map_err(|e| ExportError::Graph(format!("reading weights: {e:?}")))
}

/// Per-channel (scale, shift) of a BatchNorm in evaluation mode.
fn bn_affine(bn: &BatchNorm) -> Result<(Vec<f32>, Vec<f32>), ExportError> {
    let gamma = values(bn.gamma.val())?;
    let beta = values(bn.beta.val())?;
    let mean = values(bn.running_mean.value())?;
    let var = values(bn.running_var.value())?;
    let eps = bn.epsilon as f32;
    let scale: Vec<f32> = gamma
        .iter()
        .zip(&var)
        .map(|(g, v)| g / (v + eps).sqrt())
        .collect();
    let shift = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    Ok((scale, shift))
}

fn pads(padding: &PaddingConfig2d) -> Result<[i64; 4], ExportError> {
    match padding {
        PaddingConfig2d::Valid => Ok([0; 4]),
        &PaddingConfig2d::Explicit(top, left, bottom, right) => {
            Ok([top, left, bottom, right].map(|p| p as i64))
        }
        other => Err(ExportError::Graph(format!(
            "padding {other:?} is not exported"
        ))),
    }
}

fn conv(g: &mut GraphBuilder, c: &Conv2d, bn: &BatchNorm, x: &str) -> Result<String, ExportError> {
    let dims = c.weight.val().dims();
    let mut w = values(c.weight.val())?;
    let (scale, mut shift) = bn_affine(bn)?;
    let per_out = w.len() / dims[0];
    for (o, chunk) in w.chunks_exact_mut(per_out).enumerate() {
        chunk.iter_mut().for_each(|v| *v *= scale[o]);
    }
    if let Some(b) = &c.bias {
        for ((s, b), sc) in shift.iter_mut().zip(values(b.val())?).zip(&scale) {
            *s += b * sc;
        }
    }
    let (w, b) = g.conv_params(x, &dims, &w, &shift);
    let attrs = vec![
        ints("kernel_shape", &c.kernel_size.map(|k| k as i64)),
        ints("strides", &c.stride.map(|s| s as i64)),
        ints("dilations", &c.dilation.map(|d| d as i64)),
        ints("pads", &pads(&c.padding)?),
        int("group", c.groups as i64),
    ];
    Ok(g.node("Conv", &[x, &w, &b], attrs))
}

/// A folded convolution, then its activation.
fn conv_bn(g: &mut GraphBuilder, cb: &ConvBn, x: &str, act: Act) -> Result<String, ExportError> {
    let y = conv(g, &cb.conv, &cb.bn, x)?;
    Ok(g.activation(&y, act))
}

/// MobileNetV2's convolutions end in ReLU6 where the block says so.
fn mobile(g: &mut GraphBuilder, cb: &ConvBn, x: &str) -> Result<String, ExportError> {
    conv_bn(g, cb, x, if cb.act { Act::Relu6 } else { Act::Linear })
}

fn mobilenet_v2(g: &mut GraphBuilder, m: &MobileNetV2, x: &str) -> Result<String, ExportError> {
    let mut x = mobile(g, &m.stem, x)?;
    for block in &m.blocks {
        let mut y = x.clone();
        if let Some(e) = &block.expand {
            y = mobile(g, e, &y)?;
        }
        y = mobile(g, &block.dw, &y)?;
        y = mobile(g, &block.project, &y)?;
        x = if block.residual {
            let sum = g.node("Add", &[&x, &y], Vec::new());
            g.activation(&sum, Act::Linear)
        } else {
            y
        };
    }
    mobile(g, &m.last, &x)
}

fn resnet(g: &mut GraphBuilder, r: &ResNet, x: &str) -> Result<String, ExportError> {
    let stem = conv_bn(g, &r.stem, x, Act::Relu)?;
    let pooled = max_pool(g, &r.pool, &stem)?;
    let mut x = g.quantize_like(&pooled, &stem);
    for block in r.layers.iter().flatten() {
        let shortcut = match &block.downsample {
            Some(d) => conv_bn(g, d, &x, Act::Linear)?,
            None => x.clone(),
        };
        let y = conv_bn(g, &block.conv1, &x, Act::Relu)?;
        let y = match &block.conv3 {
            Some(c3) => {
                let y = conv_bn(g, &block.conv2, &y, Act::Relu)?;
                conv_bn(g, c3, &y, Act::Linear)?
            }
            None => conv_bn(g, &block.conv2, &y, Act::Linear)?,
        };
        let sum = g.node("Add", &[&y, &shortcut], Vec::new());
        x = g.activation(&sum, Act::Relu);
    }
    Ok(x)
}

fn max_pool(g: &mut GraphBuilder, p: &MaxPool2d, x: &str) -> Result<String, ExportError> {
    Ok(g.node(
        "MaxPool",
        &[x],
        vec![
            ints("kernel_shape", &p.kernel_size.map(|k| k as i64)),
            ints("strides", &p.stride.map(|s| s as i64)),
            ints("pads", &pads(&p.padding)?),
        ],
    ))
}

/// A Burn linear layer (weight `[in, out]`) on the last axis of `x`: `MatMul` (+ `Add`).
pub(crate) fn linear(
    g: &mut GraphBuilder,
    l: &Linear,
    x: &str,
    hint: &str,
) -> Result<String, ExportError> {
    let w = l.weight.val();
    let w = g.weight(&format!("{hint}_w"), &w.dims(), &values(w)?);
    let y = g.node("MatMul", &[x, &w], Vec::new());
    Ok(match &l.bias {
        Some(b) => {
            let b = g.weight(&format!("{hint}_b"), &b.val().dims(), &values(b.val())?);
            g.node("Add", &[&y, &b], Vec::new())
        }
        None => y,
    })
}

fn head(
    g: &mut GraphBuilder,
    h: &BnNeckHead,
    fmap: &str,
    neck_feat: NeckFeat,
) -> Result<String, ExportError> {
    let pooled = g.node("GlobalAveragePool", &[fmap], Vec::new());
    let mut x = g.node("Flatten", &[&pooled], vec![int("axis", 1)]);
    if let Some(r) = &h.reduction {
        x = linear(g, r, &x, "reduction")?;
    }
    if let (NeckFeat::After, Some(bn)) = (neck_feat, &h.bnneck) {
        let (scale, shift) = bn_affine(bn)?;
        let s = g.weight("neck_scale", &[scale.len()], &scale);
        let b = g.weight("neck_shift", &[shift.len()], &shift);
        let y = g.node("Mul", &[&x, &s], Vec::new());
        x = g.node("Add", &[&y, &b], Vec::new());
    }
    Ok(x)
}

/// Lowers `net`'s test-time embedding of the graph value `input` (NCHW, spatial size
/// `input_hw`); returns the embedding's name.
pub fn embedding(
    g: &mut GraphBuilder,
    net: &ReidNet,
    neck_feat: NeckFeat,
    input: &str,
    input_hw: (usize, usize),
) -> Result<String, ExportError> {
    let x = g.activation(input, Act::Linear);
    let fmap = match &net.backbone {
        Backbone::MobileNetV2(m) => mobilenet_v2(g, m, &x)?,
        Backbone::OsNet(o) => osnet::osnet(g, o, &x)?,
        Backbone::ResNet(r) => resnet(g, r, &x)?,
        Backbone::Swin(s) => swin::swin(g, s, &x, input_hw)?,
    };
    head(g, &net.head, &fmap, neck_feat)
}
