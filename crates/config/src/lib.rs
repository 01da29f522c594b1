//! reid's experiment configuration: the TAO-style spec (`spec`), how it is read from YAML with
//! command-line overrides (`load`), range checks (`validate`) and its errors (`error`).

mod error;
mod load;
mod spec;
mod validate;

pub use error::ConfigError;
pub use spec::*;
