//! Finding and loading ONNX Runtime's shared library (`ort` with `load-dynamic`) once per
//! process, so users never export variables. Search order: `ORT_DYLIB_PATH`; next to the
//! executable (and `../lib`); a `.venv` made by `scripts/setup.sh` in the executable's ancestors;
//! the `onnxruntime` package of `python3` on the PATH.

use crate::error::ModelError;
use ort::environment::Environment;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Why the runtime could not be set up; kept so that every later call reports the same.
#[derive(Clone)]
enum InitFailure {
    NotFound { looked: String },
    Load { path: PathBuf, message: String },
}

static ENVIRONMENT: OnceLock<Result<Environment, InitFailure>> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment() -> Result<&'static Environment, ModelError> {
    let env = ENVIRONMENT.get_or_init(|| {
        let path = locate_library().map_err(|looked| InitFailure::NotFound { looked })?;
        tracing::debug!("loading ONNX Runtime from {}", path.display());
        let load = |message: String| InitFailure::Load {
            path: path.clone(),
            message,
        };
        ort::init_from(&path)
            .map_err(|e| load(e.to_string()))?
            .with_name("reid")
            .build()
            .map_err(|e| load(e.to_string()))
    });
    env.as_ref().map_err(|failure| match failure.clone() {
        InitFailure::NotFound { looked } => ModelError::RuntimeNotFound { looked },
        InitFailure::Load { path, message } => ModelError::RuntimeLoad { path, message },
    })
}

/// Path of libonnxruntime, or the list of places looked at.
fn locate_library() -> Result<PathBuf, String> {
    let mut looked = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        looked.push(format!("ORT_DYLIB_PATH={}", p.display()));
    }
    if let Ok(exe) = std::env::current_exe() {
        let exe = exe.canonicalize().unwrap_or(exe);
        if let Some(dir) = exe.parent() {
            for d in [dir.to_owned(), dir.join("../lib")] {
                if let Some(p) = library_in(&d) {
                    return Ok(p);
                }
                looked.push(d.display().to_string());
            }
            for ancestor in dir.ancestors() {
                let venv_lib = ancestor.join(".venv/lib");
                if let Some(p) = library_in_site_packages(&venv_lib) {
                    return Ok(p);
                }
            }
            looked.push(format!("{}/**/.venv", dir.display()));
        }
    }
    if let Some(p) = library_from_python() {
        return Ok(p);
    }
    looked.push("python3 -c 'import onnxruntime'".into());
    Err(looked.join(", "))
}

/// `libonnxruntime.so*` (or the platform's equivalent) directly inside `dir`.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("libonnxruntime.so")
                    || n == "libonnxruntime.dylib"
                    || n == "onnxruntime.dll"
            })
        })
        .collect();
    found.sort();
    found.pop()
}

/// The library inside `lib/python3.*/site-packages/onnxruntime/capi` below `lib`.
fn library_in_site_packages(lib: &Path) -> Option<PathBuf> {
    std::fs::read_dir(lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find_map(|py| library_in(&py.join("site-packages/onnxruntime/capi")))
}

fn library_from_python() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let dir = String::from_utf8(out.stdout).ok()?;
    library_in(&Path::new(dir.trim()).join("capi"))
}
