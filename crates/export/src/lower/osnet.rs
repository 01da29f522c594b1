//! OSNet as ONNX nodes, mirroring `reid_modeling::native::osnet`: folded convolutions, the lite
//! convolutions' plain 1×1 `Conv`, the channel gate as `GlobalAveragePool` → `MatMul` → `Relu`
//! → `MatMul` → `Sigmoid` → `Mul`, the streams' sum and the residual as marked activations (so
//! the next convolution can be quantised), 2×2 `AveragePool`, and the 512-d fc with its
//! BatchNorm as a multiply-add, returned as a `[N, 512, 1, 1]` map for the head.

use super::{bn_affine, conv_bn, linear, values};
use crate::ExportError;
use crate::graph::{Act, GraphBuilder, int, ints};
use burn::nn::conv::Conv2d;
use reid_modeling::native::osnet::{ChannelGate, OsBlock, OsNet};

/// A 1×1 convolution without BatchNorm or bias.
fn pointwise(g: &mut GraphBuilder, c: &Conv2d, x: &str) -> Result<String, ExportError> {
    let dims = c.weight.val().dims();
    let w = values(c.weight.val())?;
    let (w, b) = g.conv_params(x, &dims, &w, &vec![0.0; dims[0]]);
    let y = g.node("Conv", &[x, &w, &b], vec![ints("kernel_shape", &[1, 1])]);
    Ok(g.activation(&y, Act::Linear))
}

/// `[N, C, …]` → `[N, C·…, 1, 1]`.
fn as_map(g: &mut GraphBuilder, x: &str) -> String {
    let shape = g.int64s("map_shape", &[0, -1, 1, 1], false);
    g.node("Reshape", &[x, &shape], Vec::new())
}

fn gate(g: &mut GraphBuilder, gate: &ChannelGate, x: &str) -> Result<String, ExportError> {
    let pooled = g.node("GlobalAveragePool", &[x], Vec::new());
    let flat = g.node("Flatten", &[&pooled], vec![int("axis", 1)]);
    let hidden = linear(g, &gate.fc1, &flat, "gate_fc1")?;
    let hidden = g.node("Relu", &[&hidden], Vec::new());
    let logits = linear(g, &gate.fc2, &hidden, "gate_fc2")?;
    let weights = g.node("Sigmoid", &[&logits], Vec::new());
    let weights = as_map(g, &weights);
    Ok(g.node("Mul", &[x, &weights], Vec::new()))
}

fn block(g: &mut GraphBuilder, b: &OsBlock, x: &str) -> Result<String, ExportError> {
    let x1 = conv_bn(g, &b.conv1, x, Act::Relu)?;
    let mut mixed: Option<String> = None;
    for stream in &b.streams {
        let mut y = x1.clone();
        for lite in stream {
            let p = pointwise(g, &lite.conv1, &y)?;
            y = conv_bn(g, &lite.conv2, &p, Act::Relu)?;
        }
        let gated = gate(g, &b.gate, &y)?;
        mixed = Some(match mixed {
            Some(sum) => g.node("Add", &[&sum, &gated], Vec::new()),
            None => gated,
        });
    }
    let mixed = g.activation(&mixed.unwrap_or(x1), Act::Linear);
    let identity = match &b.downsample {
        Some(d) => conv_bn(g, d, x, Act::Linear)?,
        None => x.to_owned(),
    };
    let y = conv_bn(g, &b.conv3, &mixed, Act::Linear)?;
    let sum = g.node("Add", &[&y, &identity], Vec::new());
    Ok(g.activation(&sum, Act::Relu))
}

pub(super) fn osnet(g: &mut GraphBuilder, net: &OsNet, x: &str) -> Result<String, ExportError> {
    let stem = conv_bn(g, &net.conv1, x, Act::Relu)?;
    let pooled = super::max_pool(g, &net.pool, &stem)?;
    let mut x = g.quantize_like(&pooled, &stem);
    for stage in &net.stages {
        for b in &stage.blocks {
            x = block(g, b, &x)?;
        }
        if let Some(t) = &stage.transition {
            let y = conv_bn(g, t, &x, Act::Relu)?;
            let pooled = g.node(
                "AveragePool",
                &[&y],
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            );
            x = g.activation(&pooled, Act::Linear);
        }
    }
    let x = conv_bn(g, &net.conv5, &x, Act::Relu)?;
    let pooled = g.node("GlobalAveragePool", &[&x], Vec::new());
    let flat = g.node("Flatten", &[&pooled], vec![int("axis", 1)]);
    let fc = linear(g, &net.fc, &flat, "fc")?;
    let (scale, shift) = bn_affine(&net.fc_bn)?;
    let s = g.weight("fc_bn_scale", &[scale.len()], &scale);
    let b = g.weight("fc_bn_shift", &[shift.len()], &shift);
    let y = g.node("Mul", &[&fc, &s], Vec::new());
    let y = g.node("Add", &[&y, &b], Vec::new());
    let y = g.node("Relu", &[&y], Vec::new());
    Ok(as_map(g, &y))
}
