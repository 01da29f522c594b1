//! Building an ONNX graph node by node: unique value names, initializers stored as fp32 or as
//! fp16 (then cast back to fp32 at load, so inference still computes in fp32), attributes, and
//! the final model with a dynamic or fixed batch and its metadata. For INT8 the builder writes
//! QDQ: every activation that the lowering marks ([`GraphBuilder::activation`]) becomes
//! `QuantizeLinear → DequantizeLinear` (uint8 over 7 bits, from its calibrated range; a ReLU or
//! ReLU6 before it is the quantiser's clamp), and convolution weights become per-channel int8
//! (±127) with int32 biases, the pattern ONNX Runtime fuses into integer kernels. 7-bit
//! activations × 8-bit weights keep ONNX Runtime's AVX2 u8×s8 kernels (pairwise products summed
//! in int16) from saturating on CPUs without VNNI. Convolutions that cancel large terms down to a
//! small output (typically BatchNorm folds of tiny variances) lose their output to rounding, so
//! the builder measures each one ([`HOSTILE_RATIO`]) and the network's start up to the last such
//! convolution can be kept in float ([`Precision::Int8`]'s `float_points`). A calibration build
//! is the fp32 graph with the quantisation points as extra outputs.

use crate::calibrate::Range;
use crate::proto::{
    AttributeProto, Dimension, DimensionValue, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TensorTypeProto,
    TypeProto, ValueInfoProto, attribute_type, data_type,
};

/// ONNX operator set of the exported graphs, and the IR version that goes with it.
pub const OPSET: i64 = 17;
const IR_VERSION: i64 = 8;

/// How weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightType {
    Fp32,
    Fp16,
    /// Static INT8 quantisation (QDQ) of weights and activations.
    Int8,
}

/// What the builder writes.
pub enum Precision {
    /// fp32 computation with weights stored as given (fp32 or fp16).
    Float(WeightType),
    /// fp32 with every quantisation point as an extra output, to calibrate on.
    Calibration,
    /// QDQ INT8 with the calibrated range of each quantisation point, in order; the first
    /// `float_points` points (and the convolutions reading them) stay in float.
    Int8 {
        ranges: Vec<Range>,
        float_points: usize,
    },
}

/// The clamp an activation applies before it is used (and quantised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Linear,
    Relu,
    Relu6,
}

/// Largest magnitude of an int8 weight.
const WEIGHT_QMAX: f32 = 127.0;
/// Largest quantised activation: 7 bits, so that ONNX Runtime's AVX2 u8×s8 kernels (pairwise
/// products summed into int16) cannot saturate on machines without VNNI.
const ACTIVATION_QMAX: f32 = 127.0;
/// A convolution is hostile to quantisation when, for some output channel,
/// `(Σ|w|·mean|x| + |b|) / mean|y|` exceeds this: its terms are that many times its output, so
/// rounding them leaves little of it (means over the calibration images; measured on a trained
/// MobileNetV2: the two convolutions that broke INT8 at 103 and 4,240, every other one below 63).
pub const HOSTILE_RATIO: f32 = 100.0;

/// A graph under construction.
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    precision: Precision,
    next: usize,
    /// The activations marked for quantisation, in order (their fp32 names).
    points: Vec<String>,
    /// Dequantised values (QDQ outputs) and the scale and zero point they were quantised with.
    quantized: std::collections::HashMap<String, (f32, u8)>,
    /// INT8: the calibrated range of every marked activation, by the name used downstream.
    ranges: std::collections::HashMap<String, Range>,
    /// INT8: for every hostile convolution, the index of its output's quantisation point.
    hostile: Vec<usize>,
}

pub fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: value,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

pub fn float(name: &str, value: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f: value,
        r#type: attribute_type::FLOAT,
        ..Default::default()
    }
}

pub fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: values.to_vec(),
        r#type: attribute_type::INTS,
        ..Default::default()
    }
}

impl GraphBuilder {
    pub fn new(precision: Precision) -> Self {
        Self {
            nodes: Vec::new(),
            initializers: Vec::new(),
            precision,
            next: 0,
            points: Vec::new(),
            quantized: Default::default(),
            ranges: Default::default(),
            hostile: Vec::new(),
        }
    }

    /// INT8: how many convolutions were judged hostile to quantisation.
    pub fn hostile(&self) -> usize {
        self.hostile.len()
    }

    /// INT8: how many quantisation points must stay in float so that no hostile convolution
    /// (nor anything before it, whose error it would amplify) is quantised; 0 when none is.
    pub fn float_points_needed(&self) -> usize {
        self.hostile.iter().max().map_or(0, |&i| i + 1)
    }

    /// The values marked for quantisation so far, in order (the extra outputs of a
    /// calibration graph).
    pub fn points(&self) -> &[String] {
        &self.points
    }

    fn initializer(&mut self, hint: &str, data_type: i32, dims: &[usize], raw: Vec<u8>) -> String {
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type,
            name: name.clone(),
            raw_data: raw,
            float_data: Vec::new(),
        });
        name
    }

    /// Marks `x` as an activation clamped by `act` (ReLU / ReLU6 nodes in float graphs; the
    /// quantiser's range in INT8 ones); returns the value to use downstream.
    pub fn activation(&mut self, x: &str, act: Act) -> String {
        let index = self.points.len();
        let (range, quantize) = match &self.precision {
            Precision::Int8 {
                ranges,
                float_points,
            } => (Some(ranges[index]), index >= *float_points),
            _ => (None, false),
        };
        if !quantize {
            let y = match act {
                Act::Linear if matches!(self.precision, Precision::Calibration) => {
                    self.node("Identity", &[x], Vec::new())
                }
                Act::Linear => x.to_owned(),
                Act::Relu => self.node("Relu", &[x], Vec::new()),
                Act::Relu6 => {
                    let (lo, hi) = (self.scalar("zero", 0.0), self.scalar("six", 6.0));
                    self.node("Clip", &[x, &lo, &hi], Vec::new())
                }
            };
            self.points.push(y.clone());
            if let Some(range) = range {
                self.ranges.insert(y.clone(), range);
            }
            return y;
        }
        let range = range.expect("INT8 builds have ranges");
        self.points.push(x.to_owned());
        let (lo, hi) = match act {
            Act::Linear => (range.lo, range.hi),
            Act::Relu => (0.0, range.hi),
            Act::Relu6 => (0.0, range.hi.min(6.0)),
        };
        let (lo, hi) = (lo.min(0.0), hi.max(0.0));
        let scale = ((hi - lo) / ACTIVATION_QMAX).max(1e-8);
        let zero_point = (-lo / scale).round().clamp(0.0, ACTIVATION_QMAX) as u8;
        let y = self.quantize(x, scale, zero_point);
        self.ranges.insert(y.clone(), Range { lo, hi, ..range });
        y
    }

    /// `x` quantised like the quantised value `like` (same scale and zero point: a max-pool
    /// passes its input's quantisation on; a max-pool's range is its input's). Float graphs: `x`.
    pub fn quantize_like(&mut self, x: &str, like: &str) -> String {
        let y = match self.quantized.get(like) {
            Some(&(scale, zero_point)) => self.quantize(x, scale, zero_point),
            None => x.to_owned(),
        };
        if let Some(&range) = self.ranges.get(like) {
            self.ranges.insert(y.clone(), range);
        }
        y
    }

    fn quantize(&mut self, x: &str, scale: f32, zero_point: u8) -> String {
        let s = self.initializer(
            "q_scale",
            data_type::FLOAT,
            &[],
            scale.to_le_bytes().to_vec(),
        );
        let z = self.initializer("q_zero", data_type::UINT8, &[], vec![zero_point]);
        let q = self.node("QuantizeLinear", &[x, &s, &z], Vec::new());
        let dq = self.node("DequantizeLinear", &[&q, &s, &z], Vec::new());
        self.quantized.insert(dq.clone(), (scale, zero_point));
        dq
    }

    /// A convolution's weight `[out, …]` and bias `[out]` for the input value `x`: per-channel
    /// int8 weights and int32 biases (scale = input scale × weight scale) when `x` is quantised,
    /// else float weights. Returns the names of the fp32 (dequantised) values. In INT8 builds it
    /// also judges the convolution hostile or not ([`HOSTILE_RATIO`]); its output must be the
    /// next marked activation.
    pub fn conv_params(
        &mut self,
        x: &str,
        dims: &[usize],
        weight: &[f32],
        bias: &[f32],
    ) -> (String, String) {
        if let Precision::Int8 { ranges, .. } = &self.precision {
            let output = self.points.len();
            let (input, out) = (self.ranges.get(x), ranges.get(output));
            if let (Some(input), Some(out)) = (input, out) {
                let (x_mean, y_mean) = (input.mean_abs, out.mean_abs.max(1e-6));
                let per_out = weight.len() / dims[0];
                let worst = weight
                    .chunks_exact(per_out)
                    .zip(bias)
                    .map(|(w, b)| {
                        (w.iter().map(|v| v.abs()).sum::<f32>() * x_mean + b.abs()) / y_mean
                    })
                    .fold(0.0f32, f32::max);
                if worst > HOSTILE_RATIO {
                    self.hostile.push(output);
                }
            }
        }
        let Some(&(x_scale, _)) = self.quantized.get(x) else {
            return (
                self.weight("conv_w", dims, weight),
                self.weight("conv_b", &[dims[0]], bias),
            );
        };
        let out = dims[0];
        let per_out = weight.len() / out;
        let scales: Vec<f32> = weight
            .chunks_exact(per_out)
            .map(|w| (w.iter().fold(0.0f32, |m, v| m.max(v.abs())) / WEIGHT_QMAX).max(1e-8))
            .collect();
        let q: Vec<u8> = weight
            .chunks_exact(per_out)
            .zip(&scales)
            .flat_map(|(w, s)| {
                w.iter()
                    .map(move |v| (v / s).round().clamp(-WEIGHT_QMAX, WEIGHT_QMAX) as i8 as u8)
            })
            .collect();
        let bias_scales: Vec<f32> = scales.iter().map(|s| s * x_scale).collect();
        let qb: Vec<u8> = bias
            .iter()
            .zip(&bias_scales)
            .flat_map(|(b, s)| {
                ((b / s).round().clamp(i32::MIN as f32, i32::MAX as f32) as i32).to_le_bytes()
            })
            .collect();
        let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let w = self.initializer("conv_w_int8", data_type::INT8, dims, q);
        let ws = self.initializer("conv_w_scale", data_type::FLOAT, &[out], f32_bytes(&scales));
        let wz = self.initializer("conv_w_zero", data_type::INT8, &[out], vec![0; out]);
        let b = self.initializer("conv_b_int32", data_type::INT32, &[out], qb);
        let bs = self.initializer(
            "conv_b_scale",
            data_type::FLOAT,
            &[out],
            f32_bytes(&bias_scales),
        );
        let bz = self.initializer("conv_b_zero", data_type::INT32, &[out], vec![0; 4 * out]);
        let axis = vec![int("axis", 0)];
        (
            self.node("DequantizeLinear", &[&w, &ws, &wz], axis.clone()),
            self.node("DequantizeLinear", &[&b, &bs, &bz], axis),
        )
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// A float weight tensor (fp16 storage for fp16 exports; fp32 otherwise, e.g. the float
    /// head of an INT8 graph); returns the name of its fp32 value.
    pub fn weight(&mut self, hint: &str, dims: &[usize], values: &[f32]) -> String {
        assert_eq!(dims.iter().product::<usize>(), values.len(), "{hint}");
        if !matches!(self.precision, Precision::Float(WeightType::Fp16)) {
            let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            return self.initializer(hint, data_type::FLOAT, dims, raw);
        }
        let raw = values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect();
        let stored = self.initializer(&format!("{hint}_fp16"), data_type::FLOAT16, dims, raw);
        self.node("Cast", &[&stored], vec![int("to", data_type::FLOAT.into())])
    }

    /// Whether the graph computes in float only (no quantisation points are taken).
    pub fn is_float(&self) -> bool {
        matches!(self.precision, Precision::Float(_))
    }

    /// An int64 constant of shape `[values.len()]` (shapes, pads, slice bounds), or a scalar
    /// when `scalar`.
    pub fn int64s(&mut self, hint: &str, values: &[i64], scalar: bool) -> String {
        let dims: &[usize] = if scalar { &[] } else { &[values.len()] };
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializer(hint, data_type::INT64, dims, raw)
    }

    /// A scalar fp32 constant (never stored as fp16).
    pub fn scalar(&mut self, hint: &str, value: f32) -> String {
        self.initializer(hint, data_type::FLOAT, &[], value.to_le_bytes().to_vec())
    }

    /// Appends a node with one output; returns the output's name.
    pub fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        let output = self.fresh(&op.to_ascii_lowercase());
        self.node_named(op, inputs, attributes, output)
    }

    fn node_named(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<AttributeProto>,
        output: String,
    ) -> String {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![output.clone()],
            name: format!("{op}_{}", self.nodes.len()),
            op_type: op.into(),
            attribute: attributes,
        });
        output
    }

    /// The model: input `input_name` of shape [batch, 3, h, w] feeding the graph, `result`
    /// renamed `output_name` of shape [batch, dim]; `batch: None` makes the batch dynamic.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        mut self,
        input_name: &str,
        input_hw: (u32, u32),
        result: &str,
        output_name: &str,
        dim: usize,
        batch: Option<usize>,
        metadata: Vec<(String, String)>,
    ) -> ModelProto {
        self.node_named("Identity", &[result], Vec::new(), output_name.to_owned());
        let batch_dim = || Dimension {
            value: Some(match batch {
                Some(b) => DimensionValue::DimValue(b as i64),
                None => DimensionValue::DimParam("batch".into()),
            }),
        };
        let fixed = |d: i64| Dimension {
            value: Some(DimensionValue::DimValue(d)),
        };
        let value_info = |name: &str, dims: Option<Vec<Dimension>>| ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type: data_type::FLOAT,
                    shape: dims.map(|dim| TensorShapeProto { dim }),
                }),
            }),
        };
        let mut outputs = vec![value_info(
            output_name,
            Some(vec![batch_dim(), fixed(dim as i64)]),
        )];
        if matches!(self.precision, Precision::Calibration) {
            outputs.extend(self.points.iter().map(|p| value_info(p, None)));
        }
        let (h, w) = input_hw;
        ModelProto {
            ir_version: IR_VERSION,
            producer_name: "reid".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: "Person re-identification embedding network exported by reid".into(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: "reid".into(),
                initializer: self.initializers,
                input: vec![value_info(
                    input_name,
                    Some(vec![
                        batch_dim(),
                        fixed(3),
                        fixed(h.into()),
                        fixed(w.into()),
                    ]),
                )],
                output: outputs,
            }),
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            metadata_props: metadata
                .into_iter()
                .map(|(key, value)| StringStringEntryProto { key, value })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(lo: f32, hi: f32, mean_abs: f32) -> Range {
        Range { lo, hi, mean_abs }
    }

    /// input → 1×1 conv of two channels into one → its output, at INT8 with `float_points`.
    fn one_conv(weight: [f32; 2], bias: f32, float_points: usize) -> GraphBuilder {
        let ranges = vec![range(-1.0, 1.0, 0.5), range(-2.0, 2.0, 1.0)];
        let mut g = GraphBuilder::new(Precision::Int8 {
            ranges,
            float_points,
        });
        let x = g.activation("input", Act::Linear);
        let (w, b) = g.conv_params(&x, &[1, 2, 1, 1], &weight, &[bias]);
        let y = g.node("Conv", &[&x, &w, &b], Vec::new());
        g.activation(&y, Act::Linear);
        g
    }

    fn ops(g: &GraphBuilder) -> Vec<&str> {
        g.nodes.iter().map(|n| n.op_type.as_str()).collect()
    }

    #[test]
    fn a_convolution_that_cancels_large_terms_is_hostile_and_the_start_stays_float() {
        // Terms of 0.5 × (300 + 300) + |−250| against outputs of mean |y| 1: ratio 550.
        let g = one_conv([300.0, -300.0], -250.0, 0);
        assert_eq!((g.hostile(), g.float_points_needed()), (1, 2));
        // A benign convolution: (0.5 × 2 + 0.1) / 1 = 1.1.
        let g = one_conv([1.0, -1.0], 0.1, 0);
        assert_eq!((g.hostile(), g.float_points_needed()), (0, 0));
        assert_eq!(
            ops(&g),
            [
                "QuantizeLinear",
                "DequantizeLinear",
                "DequantizeLinear",
                "DequantizeLinear",
                "Conv",
                "QuantizeLinear",
                "DequantizeLinear"
            ]
        );
        // Rebuilt with the two points float: the input and the weights stay float, and
        // quantisation starts at nothing here (the conv's output was the last point).
        let g = one_conv([300.0, -300.0], -250.0, 2);
        assert_eq!(ops(&g), ["Conv"]);
    }

    #[test]
    fn activations_use_seven_bits_and_weights_eight() {
        let g = one_conv([1.0, -0.5], 0.1, 0);
        let scalar = |name: &str| {
            let t = g.initializers.iter().find(|t| t.name == name).unwrap();
            t.raw_data.clone()
        };
        let q = &g.nodes[0];
        // Input range [−1, 1] over 127 levels, zero point 64.
        let scale = f32::from_le_bytes(scalar(&q.input[1]).try_into().unwrap());
        assert!((scale - 2.0 / 127.0).abs() < 1e-7, "{scale}");
        assert_eq!(scalar(&q.input[2]), [64]);
        // The larger weight is ±127.
        let w = g
            .initializers
            .iter()
            .find(|t| t.data_type == data_type::INT8)
            .unwrap();
        assert_eq!(w.raw_data, [127u8, (-64i8) as u8]);
    }
}
