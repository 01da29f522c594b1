//! CSV files with the header `path,pid` or `path,pid,camid` (columns in any order, further
//! columns ignored); relative paths are relative to the CSV's folder. Every error names the
//! file and line.

use super::ImageRecord;
use crate::error::DataError;
use std::path::Path;

pub(super) fn read(file: &Path) -> Result<Vec<ImageRecord>, DataError> {
    let bad = |line: usize, message: String| DataError::List {
        path: file.to_owned(),
        line,
        message,
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .from_path(file)
        .map_err(|e| bad(0, e.to_string()))?;
    let header = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(path_col), Some(pid_col)) = (column("path"), column("pid")) else {
        return Err(bad(
            1,
            format!(
                "the header must name `path` and `pid` (and optionally `camid`), not `{}`",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        ));
    };
    let cam_col = column("camid");
    let folder = file.parent().unwrap_or(Path::new(""));
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| bad(line, e.to_string()))?;
        let field = |col: usize| row.get(col).unwrap_or_default();
        let rel = field(path_col);
        if rel.is_empty() {
            return Err(bad(line, "empty path".into()));
        }
        let pid: i32 = field(pid_col).parse().map_err(|_| {
            bad(
                line,
                format!("person id `{}` is not a number", field(pid_col)),
            )
        })?;
        if pid < -1 {
            return Err(bad(line, format!("person id {pid} is below -1")));
        }
        let camid = match cam_col.map(field).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                c.parse()
                    .map_err(|_| bad(line, format!("camera id `{c}` is not a number")))?,
            ),
        };
        let path = folder.join(rel);
        if !path.is_file() {
            return Err(bad(
                line,
                format!("image {} does not exist", path.display()),
            ));
        }
        out.push(ImageRecord { path, pid, camid });
    }
    Ok(out)
}
