//! Learning rate per epoch, as TAO ReIdentificationNet computes it:
//! - `warmup_method: linear` — WarmupMultiStepLR (BoT): during the first `warmup_iters` epochs
//!   (else `warmup_epochs`) the factor rises linearly from `warmup_factor` to 1, then `gamma` is
//!   applied once per `lr_steps` milestone passed;
//! - `warmup_method: cosine` — TAO's cosine schedule (Swin): linear warm-up from 0.01·base_lr,
//!   then cosine annealing to 0.002·base_lr over `num_epochs`.
//!
//! Each parameter group (e.g. biases with `bias_lr_factor`) scales its base rate by its factor.

use reid_config::{TrainConfig, WarmupMethod};

/// A learning-rate schedule over epochs (0-based).
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    WarmupMultiStep {
        base_lr: f64,
        steps: Vec<u32>,
        gamma: f64,
        warmup_factor: f64,
        warmup_epochs: u32,
    },
    Cosine {
        base_lr: f64,
        num_epochs: u32,
        warmup_epochs: u32,
    },
}

impl Schedule {
    pub fn from_config(train: &TrainConfig) -> Self {
        let o = &train.optim;
        match o.warmup_method {
            WarmupMethod::Linear => Self::WarmupMultiStep {
                base_lr: f64::from(o.base_lr),
                steps: o.lr_steps.clone(),
                gamma: f64::from(o.gamma),
                warmup_factor: f64::from(o.warmup_factor),
                warmup_epochs: o.warmup_iters.unwrap_or(o.warmup_epochs),
            },
            WarmupMethod::Cosine => Self::Cosine {
                base_lr: f64::from(o.base_lr),
                num_epochs: train.num_epochs,
                warmup_epochs: o.warmup_epochs,
            },
        }
    }

    /// The learning rate during `epoch` (0-based) for a group whose rate is `factor` × base.
    pub fn lr(&self, epoch: u32, factor: f64) -> f64 {
        match self {
            Self::WarmupMultiStep {
                base_lr,
                steps,
                gamma,
                warmup_factor,
                warmup_epochs,
            } => {
                let warmup = if epoch < *warmup_epochs {
                    let alpha = f64::from(epoch) / f64::from(*warmup_epochs);
                    warmup_factor * (1.0 - alpha) + alpha
                } else {
                    1.0
                };
                let passed = steps.iter().filter(|&&s| s <= epoch).count() as i32;
                base_lr * factor * warmup * gamma.powi(passed)
            }
            Self::Cosine {
                base_lr,
                num_epochs,
                warmup_epochs,
            } => {
                let base = base_lr * factor;
                let (start, floor) = (0.01 * base, 0.002 * base);
                if epoch < *warmup_epochs {
                    start + f64::from(epoch) * (base - start) / f64::from(*warmup_epochs)
                } else {
                    let t = f64::from(epoch) / f64::from((*num_epochs).max(1));
                    floor + 0.5 * (base - floor) * (1.0 + (std::f64::consts::PI * t).cos())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn warmup_multistep_follows_taos_formula() {
        // TAO ResNet defaults: base 3.5e-4, warmup factor 0.01 over 10 epochs, steps 40/70, gamma 0.1.
        let s = Schedule::WarmupMultiStep {
            base_lr: 3.5e-4,
            steps: vec![40, 70],
            gamma: 0.1,
            warmup_factor: 0.01,
            warmup_epochs: 10,
        };
        assert!(close(s.lr(0, 1.0), 3.5e-6));
        // epoch 5: alpha 0.5 → factor 0.01·0.5 + 0.5 = 0.505.
        assert!(close(s.lr(5, 1.0), 3.5e-4 * 0.505));
        assert!(close(s.lr(10, 1.0), 3.5e-4));
        assert!(close(s.lr(39, 1.0), 3.5e-4));
        // bisect_right: the milestone epoch itself is already decayed.
        assert!(close(s.lr(40, 1.0), 3.5e-5));
        assert!(close(s.lr(70, 1.0), 3.5e-6));
        assert!(close(s.lr(119, 2.0), 7e-6));
    }

    #[test]
    fn cosine_warms_up_then_anneals_to_the_floor() {
        let s = Schedule::Cosine {
            base_lr: 8e-4,
            num_epochs: 120,
            warmup_epochs: 20,
        };
        assert!(close(s.lr(0, 1.0), 8e-6));
        assert!(close(s.lr(10, 1.0), 8e-6 + 10.0 * (8e-4 - 8e-6) / 20.0));
        // After warm-up the cosine runs on the absolute epoch: at 60 of 120 it is half-way.
        assert!(close(s.lr(60, 1.0), 1.6e-6 + 0.5 * (8e-4 - 1.6e-6)));
        assert!(close(s.lr(120, 1.0), 1.6e-6));
        assert!(close(s.lr(60, 2.0), 2.0 * s.lr(60, 1.0)));
    }

    #[test]
    fn built_from_the_spec() {
        let spec = reid_config::Spec::from_yaml_str(
            "train: {num_epochs: 30, optim: {warmup_method: linear, lr_steps: [10], base_lr: 0.1, warmup_epochs: 0}}",
            "t",
            &[],
        )
        .unwrap();
        let s = Schedule::from_config(&spec.train);
        // The spec holds f32 values: 0.1 and gamma 0.1 as read.
        let (base, gamma) = (f64::from(0.1f32), f64::from(0.1f32));
        assert!(close(s.lr(9, 1.0), base) && close(s.lr(10, 1.0), base * gamma));
        // TAO 5.2+: `warmup_iters` is the linear warm-up's length, `warmup_epochs` the cosine's.
        let both = "train: {optim: {warmup_iters: 10, warmup_epochs: 20, warmup_method: ";
        let schedule = |method: &str| {
            let yaml = format!("{both}{method}}}}}");
            Schedule::from_config(
                &reid_config::Spec::from_yaml_str(&yaml, "t", &[])
                    .unwrap()
                    .train,
            )
        };
        assert!(matches!(
            schedule("linear"),
            Schedule::WarmupMultiStep {
                warmup_epochs: 10,
                ..
            }
        ));
        assert!(matches!(
            schedule("cosine"),
            Schedule::Cosine {
                warmup_epochs: 20,
                ..
            }
        ));
    }
}
