//! The BoT / TAO ReID losses on Burn tensors: cross-entropy with optional label smoothing,
//! batch-hard triplet loss with a margin or the soft margin, and center loss with its own
//! learnable class centers. [`ReidLoss`] combines them as the spec's sampler and
//! `metric_loss_type` ask.

use burn::module::Param;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation::{relu, softplus};
use reid_config::{MetricLossType, Sampler, Spec};

/// Label smoothing ε of the BoT recipe when `model.label_smooth` is on.
pub const LABEL_SMOOTHING: f32 = 0.1;

/// Cross-entropy of `logits` [N, C] against class `labels` [N], smoothed by `smoothing`
/// (targets `(1 − ε)·onehot + ε/C`).
pub fn cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    smoothing: Option<f32>,
) -> Tensor<1> {
    CrossEntropyLossConfig::new()
        .with_smoothing(smoothing)
        .init(&logits.device())
        .forward(logits, labels)
}

/// Batch-hard triplet loss (Hermans et al.): for each anchor the farthest positive and the
/// nearest negative by Euclidean distance; `max(0, d_ap − d_an + margin)` averaged, or with
/// `margin: None` the soft margin `log(1 + exp(d_ap − d_an))`.
pub fn triplet_hard(features: Tensor<2>, labels: Tensor<1, Int>, margin: Option<f32>) -> Tensor<1> {
    let n = features.dims()[0];
    let sq = features.clone().square().sum_dim(1); // [N, 1]
    let gram = features.clone().matmul(features.transpose());
    let dist = (sq.clone() + sq.transpose() - gram * 2.0)
        .clamp_min(1e-12)
        .sqrt();
    let rows = labels.clone().reshape([n, 1]).expand([n, n]);
    let cols = labels.reshape([1, n]).expand([n, n]);
    let same = rows.equal(cols);
    let d_ap = dist
        .clone()
        .mask_fill(same.clone().bool_not(), 0.0)
        .max_dim(1);
    let d_an = dist.mask_fill(same, f32::MAX).min_dim(1);
    let gap = (d_ap - d_an).reshape([n]);
    match margin {
        Some(m) => relu(gap + m).mean(),
        None => softplus(gap, 1.0).mean(),
    }
}

/// Learnable class centers of the center loss (Wen et al.), trained by their own optimiser.
#[derive(Module, Debug)]
pub struct CenterLoss {
    pub centers: Param<Tensor<2>>,
}

impl CenterLoss {
    /// Centers drawn from N(0, 1), as in BoT.
    pub fn new(num_classes: usize, feat_dim: usize, device: &Device) -> Self {
        Self {
            centers: Param::from_tensor(Tensor::random(
                [num_classes, feat_dim],
                Distribution::Normal(0.0, 1.0),
                device,
            )),
        }
    }

    /// Mean over the batch of the squared distance of each feature to its class center.
    pub fn forward(&self, features: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
        let centers = self.centers.val().select(0, labels);
        (features - centers).square().sum_dim(1).mean()
    }
}

/// Which losses a run trains with, and their settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LossConfig {
    /// Cross-entropy on the classifier logits, with this label smoothing.
    pub cross_entropy: Option<Option<f32>>,
    /// Batch-hard triplet on the global feature, with this margin (None: soft margin).
    pub triplet: Option<Option<f32>>,
    /// Center loss weight.
    pub center: Option<f32>,
}

impl LossConfig {
    /// BoT's `make_loss`: sampler `softmax` trains cross-entropy, `triplet` the triplet loss,
    /// `softmax_triplet` both; `metric_loss_type: center` replaces the triplet loss by center
    /// loss, `triplet_center` (or `model.with_center_loss`) adds center loss.
    pub fn from_spec(spec: &Spec) -> Self {
        let (m, o) = (&spec.model, &spec.train.optim);
        let metric = spec.dataset.sampler != Sampler::Softmax;
        let ce = spec.dataset.sampler != Sampler::Triplet
            || m.metric_loss_type == MetricLossType::Center;
        let triplet = metric && m.metric_loss_type != MetricLossType::Center;
        let center =
            m.with_center_loss || (metric && m.metric_loss_type != MetricLossType::Triplet);
        Self {
            cross_entropy: ce.then_some(m.label_smooth.then_some(LABEL_SMOOTHING)),
            triplet: triplet.then_some((!m.no_margin).then_some(o.triplet_loss_margin)),
            center: center.then_some(o.center_loss_weight),
        }
    }
}

/// The value of each loss term of one batch (the total is what is back-propagated).
pub struct LossParts {
    pub total: Tensor<1>,
    pub cross_entropy: Option<Tensor<1>>,
    pub triplet: Option<Tensor<1>>,
    pub center: Option<Tensor<1>>,
}

/// All configured losses of a batch: `features` feed the metric losses, `logits` the
/// cross-entropy.
pub fn reid_loss(
    config: &LossConfig,
    center: &CenterLoss,
    features: Tensor<2>,
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
) -> LossParts {
    let ce = config
        .cross_entropy
        .map(|eps| cross_entropy(logits, labels.clone(), eps));
    let tri = config
        .triplet
        .map(|margin| triplet_hard(features.clone(), labels.clone(), margin));
    let cen = config.center.map(|_| center.forward(features, labels));
    let mut terms = Vec::new();
    terms.extend(ce.clone());
    terms.extend(tri.clone());
    if let (Some(c), Some(w)) = (&cen, config.center) {
        terms.push(c.clone() * w);
    }
    let total = terms
        .into_iter()
        .reduce(|a, b| a + b)
        .expect("at least one loss is configured");
    LossParts {
        total,
        cross_entropy: ce,
        triplet: tri,
        center: cen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Device {
        Device::flex()
    }

    fn tensor2(v: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), shape), &dev())
    }

    fn labels(v: &[i64]) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), &dev())
    }

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_scalar::<f32>())
    }

    #[test]
    fn cross_entropy_matches_hand_computed_values() {
        // Logits [0, ln 3] → p = [1/4, 3/4]; label 1: −ln 0.75.
        let logits = tensor2(&[0.0, 3f32.ln()], [1, 2]);
        let plain = scalar(cross_entropy(logits.clone(), labels(&[1]), None));
        assert!((plain - (-(0.75f64).ln())).abs() < 1e-6, "{plain}");
        // ε = 0.1, C = 2: targets [0.05, 0.95].
        let smooth = scalar(cross_entropy(logits, labels(&[1]), Some(0.1)));
        let want = -(0.05 * 0.25f64.ln() + 0.95 * 0.75f64.ln());
        assert!((smooth - want).abs() < 1e-6, "{smooth} vs {want}");
    }

    /// Four 1-d features: ids [0, 0, 1, 1] at positions [0, 1, 3, 7].
    fn line() -> (Tensor<2>, Tensor<1, Int>) {
        (
            tensor2(&[0.0, 1.0, 3.0, 7.0], [4, 1]),
            labels(&[0, 0, 1, 1]),
        )
    }

    #[test]
    fn triplet_mines_the_hardest_pairs() {
        let (f, y) = line();
        // Anchor: (farthest positive, nearest negative) = (1, 3), (1, 2), (4, 2), (4, 6).
        let gaps = [1.0 - 3.0, 1.0 - 2.0, 4.0 - 2.0, 4.0 - 6.0];
        let margin = scalar(triplet_hard(f.clone(), y.clone(), Some(0.3)));
        let want: f64 = gaps.iter().map(|g| (g + 0.3f64).max(0.0)).sum::<f64>() / 4.0;
        assert!((margin - want).abs() < 1e-5, "{margin} vs {want}");
        let soft = scalar(triplet_hard(f, y, None));
        let want: f64 = gaps.iter().map(|g| g.exp().ln_1p()).sum::<f64>() / 4.0;
        assert!((soft - want).abs() < 1e-5, "{soft} vs {want}");
    }

    #[test]
    fn center_loss_is_the_mean_squared_distance_to_the_class_center() {
        let mut c = CenterLoss::new(2, 2, &dev());
        c.centers = Param::from_tensor(tensor2(&[0.0, 0.0, 1.0, 1.0], [2, 2]));
        let f = tensor2(&[3.0, 4.0, 1.0, 2.0], [2, 2]);
        // Sample 0 (id 0): 9 + 16 = 25; sample 1 (id 1): 0 + 1 = 1 → mean 13.
        let v = scalar(c.forward(f, labels(&[0, 1])));
        assert!((v - 13.0).abs() < 1e-6, "{v}");
    }

    #[test]
    fn combined_loss_weights_the_center_term() {
        let (f, y) = line();
        let logits = tensor2(&[0.0; 8], [4, 2]);
        let mut center = CenterLoss::new(2, 1, &dev());
        center.centers = Param::from_tensor(tensor2(&[0.0, 0.0], [2, 1]));
        let config = LossConfig {
            cross_entropy: Some(None),
            triplet: Some(Some(0.3)),
            center: Some(0.5),
        };
        let parts = reid_loss(&config, &center, f, logits, y);
        let ce = scalar(parts.cross_entropy.unwrap());
        assert!((ce - 2f64.ln()).abs() < 1e-6);
        let (tri, cen) = (
            scalar(parts.triplet.unwrap()),
            scalar(parts.center.unwrap()),
        );
        // Center: (0 + 1 + 9 + 49) / 4.
        assert!((cen - 14.75).abs() < 1e-5);
        let total = scalar(parts.total);
        assert!((total - (ce + tri + 0.5 * cen)).abs() < 1e-5);
    }

    #[test]
    fn samplers_choose_the_losses_as_bot_does() {
        let spec = |s: &str| Spec::from_yaml_str(s, "t", &[]).unwrap();
        let c = LossConfig::from_spec(&spec(
            "dataset: {sampler: softmax_triplet}\nmodel: {label_smooth: true, no_margin: false}",
        ));
        assert_eq!(c.cross_entropy, Some(Some(LABEL_SMOOTHING)));
        assert_eq!(c.triplet, Some(Some(0.3)));
        assert_eq!(c.center, None);
        let c = LossConfig::from_spec(&spec("dataset: {sampler: softmax}"));
        assert_eq!((c.triplet, c.center), (None, None));
        let c = LossConfig::from_spec(&spec(
            "dataset: {sampler: triplet}\nmodel: {metric_loss_type: triplet_center}",
        ));
        assert_eq!(c.cross_entropy, None);
        assert_eq!(c.triplet, Some(None));
        assert_eq!(c.center, Some(0.0005));
    }
}
