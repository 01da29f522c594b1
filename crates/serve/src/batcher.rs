//! Dynamic batching, as Triton does it: one thread owns the model; requests queue their
//! pre-processed images, and the thread merges whatever arrives within `max_wait` of the first
//! (up to `max_batch` images) into one model call, then hands each request its own rows.

use crate::metrics::Metrics;
use reid_data::{Features, Preprocessor};
use reid_modeling::Embedder;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How the model thread batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    pub max_batch: usize,
    pub max_wait: Duration,
    /// Add the mirrored image's embedding (`model.with_flip_feature`).
    pub flip: bool,
}

struct Job {
    tensor: Vec<f32>,
    n: usize,
    reply: oneshot::Sender<Result<Features, String>>,
}

/// The handle requests use; cloning it is cheap.
#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::Sender<Job>,
}

impl Batcher {
    /// Starts the model thread; it ends when every handle is dropped.
    pub fn start(
        mut model: Box<dyn Embedder>,
        pre: Preprocessor,
        policy: BatchPolicy,
        metrics: Metrics,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("reid-model".into())
            .spawn(move || run(model.as_mut(), &pre, policy, &metrics, &rx))
            .expect("the model thread starts");
        Self { tx }
    }

    /// Embeds the `n` images of an NCHW tensor pre-processed by the server's [`Preprocessor`].
    pub async fn embed(&self, tensor: Vec<f32>, n: usize) -> Result<Features, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { tensor, n, reply })
            .map_err(|_| "the model thread has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the model thread has stopped".to_owned())?
    }
}

fn run(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    policy: BatchPolicy,
    metrics: &Metrics,
    rx: &Receiver<Job>,
) {
    while let Ok(first) = rx.recv() {
        let deadline = Instant::now() + policy.max_wait;
        let mut total = first.n;
        let mut jobs = vec![first];
        while total < policy.max_batch {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(job) => {
                    total += job.n;
                    jobs.push(job);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        let mut tensor = Vec::with_capacity(total * pre.image_len());
        jobs.iter()
            .for_each(|j| tensor.extend_from_slice(&j.tensor));
        let result = embed_all(model, pre, policy, metrics, &mut tensor, total);
        let mut row = 0;
        for job in jobs {
            let answer = match &result {
                Ok(all) => {
                    let rows = &all.data[row * all.dim..(row + job.n) * all.dim];
                    let feats = Features::from_rows(all.dim, rows.to_vec());
                    match feats.first_non_finite_row() {
                        Some(i) => Err(format!(
                            "{} gave a NaN or infinite embedding for image {i}",
                            model.describe()
                        )),
                        None => Ok(feats),
                    }
                }
                Err(e) => Err(e.clone()),
            };
            row += job.n;
            // The request may have gone away (client closed); nothing to do then.
            let _ = job.reply.send(answer);
        }
    }
}

/// Runs the model over `n` images in calls of at most `max_batch`.
fn embed_all(
    model: &mut dyn Embedder,
    pre: &Preprocessor,
    policy: BatchPolicy,
    metrics: &Metrics,
    tensor: &mut [f32],
    n: usize,
) -> Result<Features, String> {
    let mut all = Features::default();
    for (i, chunk) in tensor
        .chunks_mut(policy.max_batch * pre.image_len())
        .enumerate()
    {
        let m = chunk.len() / pre.image_len();
        metrics.batch_size.observe(m as f64);
        let feats = reid_engine::extract::embed_tensor(model, pre, chunk, m, policy.flip)
            .map_err(|e| format!("batch {i} of {n} images: {e}"))?;
        all.dim = feats.dim;
        all.data.extend_from_slice(&feats.data);
    }
    Ok(all)
}
