//! The Swin backbone as ONNX nodes, mirroring `reid_modeling::native::swin` step by step on a
//! `[batch, H, W, C]` layout with every spatial size static (only the batch is dynamic):
//! `LayerNormalization`, window partition as `Reshape`/`Transpose`, the cyclic shift as
//! `Slice` + `Concat`, the relative position bias and the shift mask as constants, GELU as
//! `x·½·(1 + erf(x/√2))`. Float precisions only.

use super::{linear, values};
use crate::ExportError;
use crate::graph::{GraphBuilder, float, int, ints};
use burn::nn::LayerNorm;
use burn::prelude::Tensor;
use reid_modeling::native::swin::{
    LN_EPS, PATCH, PatchMerging, Swin, SwinBlock, WINDOW, WindowAttention, padded, shift_mask,
};

/// A weight and its bias (zeros when the layer has none) as graph values.
fn weight_and_bias<const D: usize>(
    g: &mut GraphBuilder,
    hint: &str,
    weight: Tensor<D>,
    bias: Option<Tensor<1>>,
) -> Result<(String, String), ExportError> {
    let (dims, w) = (weight.dims(), values(weight)?);
    let b = match bias {
        Some(b) => values(b)?,
        None => vec![0.0; dims[0]],
    };
    Ok((
        g.weight(&format!("{hint}_w"), &dims, &w),
        g.weight(&format!("{hint}_b"), &[b.len()], &b),
    ))
}

fn layer_norm(g: &mut GraphBuilder, ln: &LayerNorm, x: &str) -> Result<String, ExportError> {
    let (gamma, beta) =
        weight_and_bias(g, "ln", ln.gamma.val(), ln.beta.as_ref().map(|b| b.val()))?;
    Ok(g.node(
        "LayerNormalization",
        &[x, &gamma, &beta],
        vec![int("axis", -1), float("epsilon", LN_EPS as f32)],
    ))
}

fn reshape(g: &mut GraphBuilder, x: &str, shape: &[i64]) -> String {
    let s = g.int64s("shape", shape, false);
    g.node("Reshape", &[x, &s], Vec::new())
}

fn transpose(g: &mut GraphBuilder, x: &str, perm: &[i64]) -> String {
    g.node("Transpose", &[x], vec![ints("perm", perm)])
}

/// Zero padding at the end of `axes` (of a rank-4 value) by `amounts`; `x` when none.
fn pad_end(g: &mut GraphBuilder, x: &str, axes: [usize; 2], amounts: [usize; 2]) -> String {
    if amounts == [0, 0] {
        return x.to_owned();
    }
    let mut pads = [0i64; 8];
    for (axis, amount) in axes.into_iter().zip(amounts) {
        pads[4 + axis] = amount as i64;
    }
    let p = g.int64s("pads", &pads, false);
    g.node("Pad", &[x, &p], Vec::new())
}

fn slice(g: &mut GraphBuilder, x: &str, axis: i64, start: i64, end: i64) -> String {
    let s = g.int64s("starts", &[start], false);
    let e = g.int64s("ends", &[end], false);
    let a = g.int64s("axes", &[axis], false);
    g.node("Slice", &[x, &s, &e, &a], Vec::new())
}

/// `torch.roll(x, shift, axis)` for an axis of static length `size`.
fn roll(g: &mut GraphBuilder, x: &str, shift: i64, axis: i64, size: i64) -> String {
    let split = (size - shift).rem_euclid(size);
    let tail = slice(g, x, axis, split, size);
    let head = slice(g, x, axis, 0, split);
    g.node("Concat", &[&tail, &head], vec![int("axis", axis)])
}

fn gelu(g: &mut GraphBuilder, x: &str) -> String {
    let inv_sqrt2 = g.scalar("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2);
    let one = g.scalar("one", 1.0);
    let half = g.scalar("half", 0.5);
    let scaled = g.node("Mul", &[x, &inv_sqrt2], Vec::new());
    let erf = g.node("Erf", &[&scaled], Vec::new());
    let cdf = g.node("Add", &[&erf, &one], Vec::new());
    let y = g.node("Mul", &[x, &cdf], Vec::new());
    g.node("Mul", &[&y, &half], Vec::new())
}

/// Attention of windows `x: [windows·batch, N, C]`, `windows` per image, optional shift mask.
fn attention(
    g: &mut GraphBuilder,
    a: &WindowAttention,
    x: &str,
    c: usize,
    mask: Option<(usize, Vec<f32>)>,
) -> Result<String, ExportError> {
    let n = (WINDOW * WINDOW) as i64;
    let heads = a.heads as i64;
    let d = c as i64 / heads;
    let qkv = linear(g, &a.qkv, x, "qkv")?;
    let qkv = reshape(g, &qkv, &[-1, n, 3, heads, d]);
    let qkv = transpose(g, &qkv, &[2, 0, 3, 1, 4]);
    let mut part = |i: i64| {
        let index = g.int64s("index", &[i], true);
        g.node("Gather", &[&qkv, &index], vec![int("axis", 0)])
    };
    let (q, k, v) = (part(0), part(1), part(2));
    let scale = g.scalar("attn_scale", (d as f64).powf(-0.5) as f32);
    let q = g.node("Mul", &[&q, &scale], Vec::new());
    let kt = transpose(g, &k, &[0, 1, 3, 2]);
    let logits = g.node("MatMul", &[&q, &kt], Vec::new());
    let bias = a.position_bias();
    let bias = g.weight("position_bias", &bias.dims(), &values(bias)?);
    let mut logits = g.node("Add", &[&logits, &bias], Vec::new());
    if let Some((windows, mask)) = mask {
        let per_image = reshape(g, &logits, &[-1, windows as i64, heads, n, n]);
        let m = g.weight("shift_mask", &[windows, 1, n as usize, n as usize], &mask);
        let masked = g.node("Add", &[&per_image, &m], Vec::new());
        logits = reshape(g, &masked, &[-1, heads, n, n]);
    }
    let attn = g.node("Softmax", &[&logits], vec![int("axis", -1)]);
    let y = g.node("MatMul", &[&attn, &v], Vec::new());
    let y = transpose(g, &y, &[0, 2, 1, 3]);
    let y = reshape(g, &y, &[-1, n, c as i64]);
    linear(g, &a.proj, &y, "proj")
}

/// One block on `x: [batch, h, w, c]`.
fn block(
    g: &mut GraphBuilder,
    b: &SwinBlock,
    x: &str,
    [h, w, c]: [usize; 3],
) -> Result<String, ExportError> {
    let (hp, wp) = (padded(h, WINDOW), padded(w, WINDOW));
    let (nh, nw) = (hp / WINDOW, wp / WINDOW);
    let s = b.shift as i64;
    let y = layer_norm(g, &b.norm1, x)?;
    let mut y = pad_end(g, &y, [1, 2], [hp - h, wp - w]);
    if s > 0 {
        y = roll(g, &y, -s, 1, hp as i64);
        y = roll(g, &y, -s, 2, wp as i64);
    }
    let win = WINDOW as i64;
    let y = reshape(g, &y, &[-1, nh as i64, win, nw as i64, win, c as i64]);
    let y = transpose(g, &y, &[0, 1, 3, 2, 4, 5]);
    let y = reshape(g, &y, &[-1, win * win, c as i64]);
    let mask = (s > 0).then(|| (nh * nw, shift_mask(hp, wp, b.shift)));
    let y = attention(g, &b.attn, &y, c, mask)?;
    let y = reshape(g, &y, &[-1, nh as i64, nw as i64, win, win, c as i64]);
    let y = transpose(g, &y, &[0, 1, 3, 2, 4, 5]);
    let mut y = reshape(g, &y, &[-1, hp as i64, wp as i64, c as i64]);
    if s > 0 {
        y = roll(g, &y, s, 1, hp as i64);
        y = roll(g, &y, s, 2, wp as i64);
    }
    if (hp, wp) != (h, w) {
        y = slice(g, &y, 1, 0, h as i64);
        y = slice(g, &y, 2, 0, w as i64);
    }
    let x = g.node("Add", &[x, &y], Vec::new());
    let y = layer_norm(g, &b.norm2, &x)?;
    let y = linear(g, &b.mlp.fc1, &y, "fc1")?;
    let y = gelu(g, &y);
    let y = linear(g, &b.mlp.fc2, &y, "fc2")?;
    Ok(g.node("Add", &[&x, &y], Vec::new()))
}

fn merge(
    g: &mut GraphBuilder,
    m: &PatchMerging,
    x: &str,
    [h, w, c]: [usize; 3],
) -> Result<String, ExportError> {
    let (hp, wp) = (padded(h, 2), padded(w, 2));
    let x = pad_end(g, x, [1, 2], [hp - h, wp - w]);
    let (h2, w2, c) = ((hp / 2) as i64, (wp / 2) as i64, c as i64);
    let x = reshape(g, &x, &[-1, h2, 2, w2, 2, c]);
    let x = transpose(g, &x, &[0, 1, 3, 4, 2, 5]);
    let x = reshape(g, &x, &[-1, h2, w2, 4 * c]);
    let x = layer_norm(g, &m.norm, &x)?;
    linear(g, &m.reduction, &x, "reduction")
}

/// The backbone on the NCHW input `x` of spatial size `hw`; returns its NCHW output map.
pub fn swin(
    g: &mut GraphBuilder,
    net: &Swin,
    x: &str,
    (h, w): (usize, usize),
) -> Result<String, ExportError> {
    if !g.is_float() {
        return Err(ExportError::Graph(
            "INT8 export covers the convolutional backbones (ResNet, MobileNetV2); \
             export Swin models as fp32 or fp16"
                .into(),
        ));
    }
    let (hp, wp) = (padded(h, PATCH), padded(w, PATCH));
    let x = pad_end(g, x, [2, 3], [hp - h, wp - w]);
    let proj = &net.patch_embed.proj;
    let bias = proj.bias.as_ref().map(|b| b.val());
    let (wv, bv) = weight_and_bias(g, "patch", proj.weight.val(), bias)?;
    let p = PATCH as i64;
    let x = g.node(
        "Conv",
        &[&x, &wv, &bv],
        vec![ints("kernel_shape", &[p, p]), ints("strides", &[p, p])],
    );
    let x = transpose(g, &x, &[0, 2, 3, 1]);
    let mut x = layer_norm(g, &net.patch_embed.norm, &x)?;
    let mut dims = [hp / PATCH, wp / PATCH, proj.weight.val().dims()[0]];
    for stage in &net.layers {
        for b in &stage.blocks {
            x = block(g, b, &x, dims)?;
        }
        if let Some(m) = &stage.downsample {
            x = merge(g, m, &x, dims)?;
            dims = [padded(dims[0], 2) / 2, padded(dims[1], 2) / 2, dims[2] * 2];
        }
    }
    let x = layer_norm(g, &net.norm, &x)?;
    Ok(transpose(g, &x, &[0, 3, 1, 2]))
}
