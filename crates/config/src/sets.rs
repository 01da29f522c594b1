//! Where each image set of an experiment comes from, resolved once: a command's own keys
//! (`evaluate.*`, `inference.*`, `export.*`) fall back to `dataset.*`, and every set carries the
//! spec's `dataset.layout`.

use crate::error::ConfigError;
use crate::spec::{DatasetLayout, Spec};
use std::path::{Path, PathBuf};

/// One image set: a folder or a list file, and how to read it (detected when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSource {
    pub path: PathBuf,
    pub layout: Option<DatasetLayout>,
}

/// The query and gallery (TAO: test) sets of an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationSets {
    pub query: DataSource,
    pub gallery: DataSource,
}

impl Spec {
    fn source(&self, path: &Path) -> DataSource {
        DataSource {
            path: path.to_owned(),
            layout: self.dataset.layout,
        }
    }

    fn first_source(&self, choices: &[&Option<PathBuf>]) -> Option<DataSource> {
        choices
            .iter()
            .find_map(|c| c.as_ref())
            .map(|p| self.source(p))
    }

    /// The training sets (`dataset.train_dataset_dir`, one or several).
    pub fn train_sets(&self) -> Result<Vec<DataSource>, ConfigError> {
        if self.dataset.train_dataset_dir.is_empty() {
            return Err(missing("dataset.train_dataset_dir"));
        }
        Ok(self
            .dataset
            .train_dataset_dir
            .iter()
            .map(|p| self.source(p))
            .collect())
    }

    /// The sets `reid evaluate` (and `reid export`'s INT8 check) score on: `evaluate.*`, else
    /// `dataset.*`; `None` unless both are set.
    pub fn evaluation_sets(&self) -> Option<EvaluationSets> {
        let (ev, ds) = (&self.evaluate, &self.dataset);
        Some(EvaluationSets {
            query: self.first_source(&[&ev.query_dataset, &ds.query_dataset_dir])?,
            gallery: self.first_source(&[&ev.test_dataset, &ds.test_dataset_dir])?,
        })
    }

    /// [`Spec::evaluation_sets`], or an error naming the key that is missing.
    pub fn require_evaluation_sets(&self) -> Result<EvaluationSets, ConfigError> {
        let (ev, ds) = (&self.evaluate, &self.dataset);
        if ev.query_dataset.is_none() && ds.query_dataset_dir.is_none() {
            return Err(missing(
                "evaluate.query_dataset or dataset.query_dataset_dir",
            ));
        }
        if ev.test_dataset.is_none() && ds.test_dataset_dir.is_none() {
            return Err(missing("evaluate.test_dataset or dataset.test_dataset_dir"));
        }
        Ok(self.evaluation_sets().expect("both sets are set"))
    }

    /// The sets validated on during training: `dataset.query_dataset_dir` and
    /// `dataset.test_dataset_dir`, when both are set.
    pub fn validation_sets(&self) -> Option<EvaluationSets> {
        let ds = &self.dataset;
        Some(EvaluationSets {
            query: self.first_source(&[&ds.query_dataset_dir])?,
            gallery: self.first_source(&[&ds.test_dataset_dir])?,
        })
    }

    /// The query and test sets `reid inference` embeds (`inference.*`, else `dataset.*`), each
    /// when set.
    pub fn inference_sets(&self) -> (Option<DataSource>, Option<DataSource>) {
        let (inf, ds) = (&self.inference, &self.dataset);
        (
            self.first_source(&[&inf.query_dataset, &ds.query_dataset_dir]),
            self.first_source(&[&inf.test_dataset, &ds.test_dataset_dir]),
        )
    }

    /// The query set `reid bench` times extraction on (`evaluate.*`, else `dataset.*`).
    pub fn bench_set(&self) -> Option<DataSource> {
        self.first_source(&[
            &self.evaluate.query_dataset,
            &self.dataset.query_dataset_dir,
        ])
    }

    /// Images `reid export` checks its ONNX file on: `export.cal_image_dir`, else the query,
    /// else the test set.
    pub fn export_check_set(&self) -> Option<DataSource> {
        let (ex, ds) = (&self.export, &self.dataset);
        self.first_source(&[
            &ex.cal_image_dir,
            &ds.query_dataset_dir,
            &ds.test_dataset_dir,
        ])
    }

    /// INT8 calibration images: `export.cal_image_dir`, else the first training set.
    pub fn calibration_set(&self) -> Result<DataSource, ConfigError> {
        self.first_source(&[&self.export.cal_image_dir])
            .or_else(|| {
                self.dataset
                    .train_dataset_dir
                    .first()
                    .map(|p| self.source(p))
            })
            .ok_or_else(|| {
                missing(
                    "export.cal_image_dir (INT8 calibration images) or dataset.train_dataset_dir",
                )
            })
    }
}

fn missing(keys: &str) -> ConfigError {
    ConfigError::Missing {
        keys: keys.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str, overrides: &[&str]) -> Spec {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Spec::from_yaml_str(yaml, "test", &overrides).unwrap()
    }

    #[test]
    fn command_keys_win_over_dataset_keys_and_carry_the_layout() {
        let s = spec(
            "dataset: {query_dataset_dir: q, test_dataset_dir: g, layout: duke}\n\
             evaluate: {query_dataset: eq}\n",
            &[],
        );
        let sets = s.evaluation_sets().unwrap();
        assert_eq!(sets.query.path, PathBuf::from("eq"));
        assert_eq!(sets.gallery.path, PathBuf::from("g"));
        assert_eq!(sets.query.layout, Some(DatasetLayout::Duke));
        assert_eq!(s.validation_sets().unwrap().query.path, PathBuf::from("q"));
        assert_eq!(s.inference_sets().0.unwrap().path, PathBuf::from("q"));
        assert_eq!(s.bench_set().unwrap().path, PathBuf::from("eq"));
    }

    #[test]
    fn missing_sets_name_their_keys() {
        let s = spec("dataset: {query_dataset_dir: q}\n", &[]);
        assert!(s.evaluation_sets().is_none());
        let err = s.require_evaluation_sets().unwrap_err().to_string();
        assert!(err.contains("evaluate.test_dataset"), "{err}");
        let err = s.train_sets().unwrap_err().to_string();
        assert!(err.contains("dataset.train_dataset_dir"), "{err}");
        let err = s.calibration_set().unwrap_err().to_string();
        assert!(err.contains("export.cal_image_dir"), "{err}");
    }

    #[test]
    fn train_sets_are_one_or_many() {
        let one = spec("dataset: {train_dataset_dir: a}\n", &[]);
        assert_eq!(one.train_sets().unwrap().len(), 1);
        let two = spec("dataset: {train_dataset_dir: [a, b]}\n", &[]);
        let paths: Vec<_> = two
            .train_sets()
            .unwrap()
            .into_iter()
            .map(|s| s.path)
            .collect();
        assert_eq!(paths, [PathBuf::from("a"), PathBuf::from("b")]);
        assert_eq!(two.calibration_set().unwrap().path, PathBuf::from("a"));
        let overridden = spec("", &["dataset.train_dataset_dir=[x, y, z]"]);
        assert_eq!(overridden.train_sets().unwrap().len(), 3);
        let unset = spec(
            "dataset: {train_dataset_dir: a}\n",
            &["dataset.train_dataset_dir=null"],
        );
        assert!(unset.train_sets().is_err());
    }
}
