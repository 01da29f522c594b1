//! Range checks that types alone cannot express (positive sizes, three-channel statistics, …).

use crate::error::ConfigError;
use crate::spec::Spec;

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

impl Spec {
    /// Checks value ranges; [`Spec::load`] calls it after applying overrides.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let m = &self.model;
        let d = &self.dataset;
        for (key, v) in [
            ("model.input_width", m.input_width),
            ("model.input_height", m.input_height),
            ("model.feat_dim", m.feat_dim),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be > 0"));
            }
        }
        if m.input_channels != 3 {
            return Err(invalid(
                "model.input_channels",
                "only 3-channel input is supported",
            ));
        }
        for (key, v) in [
            ("dataset.pixel_mean", &d.pixel_mean),
            ("dataset.pixel_std", &d.pixel_std),
        ] {
            if v.len() != 3 {
                return Err(invalid(key, format!("needs 3 values, got {}", v.len())));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(invalid(key, "values must be finite"));
            }
        }
        if d.pixel_std.iter().any(|&s| s <= 0.0) {
            return Err(invalid("dataset.pixel_std", "values must be > 0"));
        }
        if d.val_batch_size == 0 {
            return Err(invalid("dataset.val_batch_size", "must be > 0"));
        }
        let r = &self.re_ranking;
        if r.k1 == 0 || r.k2 == 0 {
            return Err(invalid("re_ranking.k1/k2", "must be > 0"));
        }
        if r.max_rank == 0 {
            return Err(invalid("re_ranking.max_rank", "must be > 0"));
        }
        if self.train.validation_interval == Some(0) {
            return Err(invalid("train.validation_interval", "must be > 0"));
        }
        if !(0.0..=1.0).contains(&r.lambda_value) {
            return Err(invalid("re_ranking.lambda_value", "must be in [0, 1]"));
        }
        if self.bench.batch_sizes.is_empty() || self.bench.batch_sizes.contains(&0) {
            return Err(invalid("bench.batch_sizes", "needs batch sizes > 0"));
        }
        if self.bench.iterations == 0 {
            return Err(invalid("bench.iterations", "must be > 0"));
        }
        let s = &self.serve;
        for (key, v) in [
            ("serve.max_batch", s.max_batch),
            ("serve.max_body_bytes", s.max_body_bytes),
            ("serve.max_top_k", s.max_top_k),
        ] {
            if v == 0 {
                return Err(invalid(key, "must be > 0"));
            }
        }
        let t = &self.track;
        if !(0.0..=1.0).contains(&t.min_score) {
            return Err(invalid("track.min_score", "must be in [0, 1]"));
        }
        for (key, v) in [
            ("track.match_distance", t.match_distance),
            ("track.global_distance", t.global_distance),
        ] {
            if !(v > 0.0 && v <= 2.0) {
                return Err(invalid(key, "must be in (0, 2]"));
            }
        }
        if !(t.min_score..=1.0).contains(&t.high_score) {
            return Err(invalid(
                "track.high_score",
                "must be in [track.min_score, 1]",
            ));
        }
        if !(t.calibration_far > 0.0 && t.calibration_far < 1.0) {
            return Err(invalid("track.calibration_far", "must be in (0, 1)"));
        }
        if t.n_init == 0 {
            return Err(invalid("track.n_init", "must be > 0"));
        }
        Ok(())
    }
}
