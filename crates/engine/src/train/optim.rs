//! The optimiser of the BoT / TAO recipe on a Burn module: SGD (momentum, nesterov), Adam or
//! AdamW with `weight_decay`, biases (and BatchNorm betas) in their own group with
//! `weight_decay_bias` and `bias_lr_factor`, the classifier at 2× with `large_fc_lr`; and
//! PyTorch's global-norm gradient clipping (`clip_grad_norm`).

use burn::lr_scheduler::LrSchedulerConfig;
use burn::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrSchedulerConfig};
use burn::module::{Module, ModuleVisitor, Param, ParamGroup};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use reid_config::{OptimConfig, OptimizerName};

/// Parameters trained with `weight_decay_bias` and `bias_lr_factor` (BoT: every "bias").
const BIAS_PARAMS: &str = r"(^|\.)(bias|beta)$";
/// Parameters of the identity classifier (`large_fc_lr`).
const CLASSIFIER_PARAMS: &str = r"^head\.classifier\.";
/// Learning-rate factor of the classifier with `large_fc_lr` (TAO).
const LARGE_FC_FACTOR: f64 = 2.0;
/// PyTorch's Adam epsilon (Burn's default is 1e-5).
const ADAM_EPSILON: f32 = 1e-8;

fn group(pattern: &str) -> ParamGroup {
    ParamGroup::from_regex(pattern).expect("static regex")
}

/// The optimiser for the spec's `train.optim.*`.
pub fn build(o: &OptimConfig) -> ModuleOptimizer {
    let decay = |d: f32| (d > 0.0).then(|| WeightDecayConfig::new(d));
    let bias = group(BIAS_PARAMS);
    match o.name {
        OptimizerName::Sgd => {
            let sgd = |d: f32| {
                SgdConfig::new()
                    .with_momentum((o.momentum > 0.0).then(|| {
                        MomentumConfig::new()
                            .with_momentum(f64::from(o.momentum))
                            .with_dampening(0.0)
                            .with_nesterov(o.nesterov)
                    }))
                    .with_weight_decay(decay(d))
            };
            let bias_optim = sgd(o.weight_decay_bias).build();
            sgd(o.weight_decay)
                .init()
                .with_group(bias, bias_optim, None)
        }
        OptimizerName::Adam => {
            let adam = |d: f32| {
                AdamConfig::new()
                    .with_epsilon(ADAM_EPSILON)
                    .with_weight_decay(decay(d))
            };
            let bias_optim = adam(o.weight_decay_bias).build();
            adam(o.weight_decay)
                .init()
                .with_group(bias, bias_optim, None)
        }
        OptimizerName::AdamW => {
            let adamw = |d: f32| {
                AdamWConfig::new()
                    .with_epsilon(ADAM_EPSILON)
                    .with_weight_decay(d)
            };
            let bias_optim = adamw(o.weight_decay_bias).build();
            adamw(o.weight_decay)
                .init()
                .with_group(bias, bias_optim, None)
        }
    }
}

/// Per-group learning rates for a step at base rate `lr`.
pub fn learning_rates(o: &OptimConfig, lr: f64) -> ModuleLearningRate {
    let mut config = ModuleLrSchedulerConfig::new(LrSchedulerConfig::Constant(lr)).with_group(
        group(BIAS_PARAMS),
        LrSchedulerConfig::Constant(lr * f64::from(o.bias_lr_factor)),
    );
    if o.large_fc_lr {
        config = config.with_group(
            group(CLASSIFIER_PARAMS),
            LrSchedulerConfig::Constant(lr * LARGE_FC_FACTOR),
        );
    }
    config.init().expect("constant schedules").step()
}

/// Scales all gradients so that their global L2 norm is at most `max_norm`
/// (`torch.nn.utils.clip_grad_norm_`); returns the norm before clipping.
pub fn clip_grad_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f32) -> f32 {
    struct SquaredNorm<'a> {
        grads: &'a GradientsParams,
        parts: Vec<Tensor<1>>,
    }
    impl ModuleVisitor for SquaredNorm<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(param.id) {
                self.parts.push(g.square().sum());
            }
        }
    }
    struct Scale<'a> {
        grads: &'a mut GradientsParams,
        factor: f32,
    }
    impl ModuleVisitor for Scale<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(param.id) {
                self.grads.register(param.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut norm = SquaredNorm {
        grads,
        parts: Vec::new(),
    };
    model.visit(&mut norm);
    if norm.parts.is_empty() {
        return 0.0;
    }
    let total = Tensor::cat(norm.parts, 0).sum().sqrt().into_scalar::<f32>();
    if total > max_norm {
        model.visit(&mut Scale {
            grads,
            factor: max_norm / (total + 1e-6),
        });
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};

    #[derive(Module, Debug)]
    struct Net {
        body: Linear,
        classifier: Linear,
    }

    #[derive(Module, Debug)]
    struct Wrapped {
        head: Net,
    }

    fn net(device: &Device) -> Wrapped {
        Wrapped {
            head: Net {
                body: LinearConfig::new(2, 2).init(device),
                classifier: LinearConfig::new(2, 1).init(device),
            },
        }
    }

    fn values<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f32> {
        p.val().into_data().try_into_vec::<f32>().unwrap()
    }

    /// One SGD step (no momentum) from the same weights with gradient 1 everywhere:
    /// each parameter moves by −lr·factor·(1 + wd·p).
    #[test]
    fn groups_get_their_learning_rate_and_decay() {
        let device = Device::flex().autodiff();
        let model = net(&device);
        let x = Tensor::<2>::ones([1, 2], &device);
        // d/dθ of sum(W·x + b) = 1 for every weight and bias of `body`.
        let loss =
            model.head.body.forward(x.clone()).sum() + model.head.classifier.forward(x).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let o = OptimConfig {
            name: OptimizerName::Sgd,
            momentum: 0.0,
            weight_decay: 0.5,
            weight_decay_bias: 0.0,
            bias_lr_factor: 2.0,
            large_fc_lr: true,
            ..OptimConfig::default()
        };
        let before_w = values(&model.head.body.weight);
        let before_b = values(model.head.body.bias.as_ref().unwrap());
        let before_c = values(&model.head.classifier.weight);
        let mut optim = build(&o);
        let after = optim.step(learning_rates(&o, 0.1), model, grads);
        for (a, b) in values(&after.head.body.weight).iter().zip(&before_w) {
            assert!((a - (b - 0.1 * (1.0 + 0.5 * b))).abs() < 1e-6);
        }
        for (a, b) in values(after.head.body.bias.as_ref().unwrap())
            .iter()
            .zip(&before_b)
        {
            assert!((a - (b - 0.2)).abs() < 1e-6);
        }
        for (a, b) in values(&after.head.classifier.weight).iter().zip(&before_c) {
            assert!((a - (b - 0.2 * (1.0 + 0.5 * b))).abs() < 1e-6);
        }
    }

    #[test]
    fn clipping_scales_the_global_norm() {
        let device = Device::flex().autodiff();
        let model = net(&device);
        let x = Tensor::<2>::ones([1, 2], &device) * 3.0;
        let loss = model.head.body.forward(x).sum();
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        // Weight grads 3 (×4), bias grads 1 (×2): norm √(36 + 2) = √38.
        let norm = clip_grad_norm(&model, &mut grads, 1.0);
        assert!((norm - 38f32.sqrt()).abs() < 1e-4, "{norm}");
        assert!((clip_grad_norm(&model, &mut grads, 10.0) - 1.0).abs() < 1e-4);
    }
}
