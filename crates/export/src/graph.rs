//! Building an ONNX graph node by node: unique value names, initializers stored as fp32 or as
//! fp16 (then cast back to fp32 at load, so inference still computes in fp32), attributes, and
//! the final model with a dynamic or fixed batch and its metadata.

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
}

/// A graph under construction.
pub struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    weights: WeightType,
    next: usize,
}

pub fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: value,
        r#type: attribute_type::INT,
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
    pub fn new(weights: WeightType) -> Self {
        Self {
            nodes: Vec::new(),
            initializers: Vec::new(),
            weights,
            next: 0,
        }
    }

    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// A float weight tensor; returns the name of its fp32 value.
    pub fn weight(&mut self, hint: &str, dims: &[usize], values: &[f32]) -> String {
        assert_eq!(dims.iter().product::<usize>(), values.len(), "{hint}");
        let name = self.fresh(hint);
        let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
        match self.weights {
            WeightType::Fp32 => {
                self.initializers.push(TensorProto {
                    dims,
                    data_type: data_type::FLOAT,
                    name: name.clone(),
                    raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                });
                name
            }
            WeightType::Fp16 => {
                let stored = format!("{name}_fp16");
                self.initializers.push(TensorProto {
                    dims,
                    data_type: data_type::FLOAT16,
                    name: stored.clone(),
                    raw_data: values
                        .iter()
                        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                        .collect(),
                });
                self.node_named(
                    "Cast",
                    &[&stored],
                    vec![int("to", data_type::FLOAT.into())],
                    name,
                )
            }
        }
    }

    /// A scalar fp32 constant (never stored as fp16).
    pub fn scalar(&mut self, hint: &str, value: f32) -> String {
        let name = self.fresh(hint);
        self.initializers.push(TensorProto {
            dims: Vec::new(),
            data_type: data_type::FLOAT,
            name: name.clone(),
            raw_data: value.to_le_bytes().to_vec(),
        });
        name
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
        let value_info = |name: &str, dims: Vec<Dimension>| ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                tensor_type: Some(TensorTypeProto {
                    elem_type: data_type::FLOAT,
                    shape: Some(TensorShapeProto { dim: dims }),
                }),
            }),
        };
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
                    vec![batch_dim(), fixed(3), fixed(h.into()), fixed(w.into())],
                )],
                output: vec![value_info(
                    output_name,
                    vec![batch_dim(), fixed(dim as i64)],
                )],
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
