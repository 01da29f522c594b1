//! Any ReID ONNX model run through ONNX Runtime: checks the graph's input (float NCHW, 3
//! channels) and output (`[N, D]` or `[N, D, 1, 1]`) when opened, and runs fixed-batch models
//! (e.g. OMZ's batch-1 graphs) chunk by chunk. Models exported by reid carry their
//! pre-processing in their metadata, which then replaces the spec's.

use crate::embedder::Embedder;
use crate::error::ModelError;
use crate::runtime;
use crate::sealed::{self, ModelKey};
use ort::session::{Session, builder::GraphOptimizationLevel};
use ort::value::{Outlet, TensorElementType, TensorRef, ValueType};
use reid_data::{Features, Preprocessor};
use std::path::{Path, PathBuf};

/// An opened ONNX ReID model.
pub struct OnnxModel {
    path: PathBuf,
    session: Session,
    input_name: String,
    output_name: String,
    /// The batch size the graph is fixed to, if it is not dynamic.
    fixed_batch: Option<usize>,
    input_hw: (Option<u32>, Option<u32>),
    /// Pre-processing recorded in the model's metadata (models exported by reid).
    preprocessor: Option<Preprocessor>,
}

/// An ONNX Runtime session for the model at `path` with `threads` intra-op threads (0 = all
/// cores), fully optimised; a sealed file is opened with `key` and given to ONNX Runtime from
/// memory.
pub(crate) fn session(
    path: &Path,
    threads: usize,
    key: Option<&ModelKey>,
) -> Result<Session, ModelError> {
    if !path.is_file() {
        return Err(ModelError::MissingFile(path.to_owned()));
    }
    let load = |message: String| ModelError::Load {
        path: path.to_owned(),
        message,
    };
    let env = runtime::environment()?;
    let mut builder = Session::builder(env)
        .map_err(|e| load(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| load(e.to_string()))?
        .with_intra_threads(threads)
        .map_err(|e| load(e.to_string()))?;
    let committed = if sealed::is_sealed_file(path) {
        builder.commit_from_memory(&sealed::read(path, key)?)
    } else {
        builder.commit_from_file(path)
    };
    committed.map_err(|e| load(e.to_string()))
}

/// A shape error about the model at `path`.
pub(crate) fn shape_error(path: &Path, message: impl Into<String>) -> ModelError {
    ModelError::Shape {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// The graph's first input, or a shape error naming `path`.
pub(crate) fn first_input<'s>(session: &'s Session, path: &Path) -> Result<&'s Outlet, ModelError> {
    session
        .inputs()
        .first()
        .ok_or_else(|| shape_error(path, "the graph has no input"))
}

pub(crate) fn fixed_dim(d: i64) -> Option<u32> {
    u32::try_from(d).ok().filter(|&d| d > 0)
}

impl OnnxModel {
    /// Opens `path` (with `key` when it is sealed) with `threads` intra-op threads (0 = ONNX
    /// Runtime's default: all cores).
    pub fn open(path: &Path, threads: usize, key: Option<&ModelKey>) -> Result<Self, ModelError> {
        let session = session(path, threads, key)?;
        let shape_err = |message: String| shape_error(path, message);
        let input = first_input(&session, path)?;
        let ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape,
            ..
        } = input.dtype()
        else {
            return Err(shape_err(format!(
                "input `{}` must be a float32 tensor, found {}",
                input.name(),
                input.dtype()
            )));
        };
        if shape.len() != 4 || !(shape[1] == 3 || shape[1] < 0) {
            return Err(shape_err(format!(
                "input `{}` must be NCHW with 3 channels, found shape {:?}",
                input.name(),
                &shape[..]
            )));
        }
        let fixed_batch = fixed_dim(shape[0]).map(|b| b as usize);
        let input_hw = (fixed_dim(shape[2]), fixed_dim(shape[3]));
        let input_name = input.name().to_owned();
        let output = session
            .outputs()
            .iter()
            .find(|o| matches!(o.name(), "fc_pred" | "embedding"))
            .or_else(|| session.outputs().first())
            .ok_or_else(|| shape_err("the graph has no output".into()))?;
        if !matches!(
            output.dtype(),
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                ..
            }
        ) {
            return Err(shape_err(format!(
                "output `{}` must be a float32 tensor, found {}",
                output.name(),
                output.dtype()
            )));
        }
        let output_name = output.name().to_owned();
        let preprocessor = session
            .metadata()
            .ok()
            .and_then(|m| Preprocessor::from_metadata(|key| m.custom(key)));
        Ok(Self {
            path: path.to_owned(),
            session,
            input_name,
            output_name,
            fixed_batch,
            input_hw,
            preprocessor,
        })
    }

    fn run_error(&self, message: String) -> ModelError {
        ModelError::Run {
            path: self.path.clone(),
            message,
        }
    }

    /// One graph call on `n` images.
    fn run(
        &mut self,
        tensor: &[f32],
        n: usize,
        h: u32,
        w: u32,
    ) -> Result<ort::session::SessionOutputs<'_>, ModelError> {
        let shape = [n as i64, 3, i64::from(h), i64::from(w)];
        let input = TensorRef::from_array_view((shape, tensor))
            .map_err(|e| self.run_error(e.to_string()))?;
        let path = self.path.clone();
        self.session
            .run(ort::inputs![self.input_name.as_str() => input])
            .map_err(|e| ModelError::Run {
                path,
                message: e.to_string(),
            })
    }

    /// Runs exactly one graph call on `n` images.
    fn run_once(
        &mut self,
        tensor: &[f32],
        n: usize,
        h: u32,
        w: u32,
    ) -> Result<Features, ModelError> {
        let (path, output_name) = (self.path.clone(), self.output_name.clone());
        let run_err = |message: String| ModelError::Run {
            path: path.clone(),
            message,
        };
        let outputs = self.run(tensor, n, h, w)?;
        let (out_shape, data) = outputs[output_name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| run_err(e.to_string()))?;
        let dims: &[i64] = out_shape;
        let per_item: i64 = dims.iter().skip(1).product();
        let trailing_ones = dims.iter().skip(2).all(|&d| d == 1);
        if dims.len() < 2 || dims[0] != n as i64 || !trailing_ones || per_item <= 0 {
            return Err(ModelError::Shape {
                path,
                message: format!(
                    "output `{output_name}` has shape {dims:?} for a batch of {n}; expected [{n}, D] or [{n}, D, 1, 1]"
                ),
            });
        }
        Ok(Features::from_rows(per_item as usize, data.to_vec()))
    }

    /// Runs the graph on `n` images and returns the float outputs `names`, flattened (INT8
    /// calibration reads intermediate activations this way).
    pub fn outputs(
        &mut self,
        tensor: &[f32],
        n: usize,
        (h, w): (u32, u32),
        names: &[String],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let path = self.path.clone();
        let run_err = |message: String| ModelError::Run {
            path: path.clone(),
            message,
        };
        let outputs = self.run(tensor, n, h, w)?;
        names
            .iter()
            .map(|name| {
                let value = outputs
                    .get(name.as_str())
                    .ok_or_else(|| run_err(format!("the graph has no output `{name}`")))?;
                let (_, data) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| run_err(format!("output `{name}`: {e}")))?;
                Ok(data.to_vec())
            })
            .collect()
    }
}

impl Embedder for OnnxModel {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn input_size(&self) -> (Option<u32>, Option<u32>) {
        self.input_hw
    }

    fn max_batch(&self) -> Option<usize> {
        self.fixed_batch
    }

    fn preprocessor(&self) -> Option<Preprocessor> {
        self.preprocessor.clone()
    }

    fn embed(&mut self, tensor: &[f32], n: usize, h: u32, w: u32) -> Result<Features, ModelError> {
        let image_len = 3 * (h * w) as usize;
        assert_eq!(tensor.len(), n * image_len, "tensor is not n × 3 × h × w");
        let Some(b) = self.fixed_batch.filter(|&b| b != n) else {
            return self.run_once(tensor, n, h, w);
        };
        // A fixed-batch graph: run it on chunks of `b`, zero-padding the last one.
        let mut out = Features::default();
        let mut padded = Vec::new();
        for chunk in tensor.chunks(b * image_len) {
            let real = chunk.len() / image_len;
            let input = if real == b {
                chunk
            } else {
                padded.clear();
                padded.extend_from_slice(chunk);
                padded.resize(b * image_len, 0.0);
                &padded
            };
            let f = self.run_once(input, b, h, w)?;
            out.dim = f.dim;
            out.data.extend_from_slice(&f.data[..real * f.dim]);
        }
        Ok(out)
    }
}
