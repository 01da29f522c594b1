//! reid's experiment configuration: the TAO-style spec (`spec`), how it is read from YAML with
//! command-line overrides (`load`), range checks (`validate`), the image sets each command
//! reads (`sets`), TAO's keys reid reads its own way (`tao`) and its errors (`error`).

mod error;
mod load;
mod sets;
mod spec;
mod tao;
mod validate;

pub use error::ConfigError;
pub use sets::{DataSource, EvaluationSets};
pub use spec::*;
