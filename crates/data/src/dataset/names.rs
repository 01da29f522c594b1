//! The file-name layouts: Market-1501 (`0002_c1s1_000451_03.jpg`: person, camera, sequence,
//! frame, box) and DukeMTMC-reID (`0001_c2_f0046182.jpg`: person, camera, frame). Both start
//! with `<pid>_c<camera>`, which is all the labels need; folders are read recursively and names
//! that do not parse are skipped and reported.

use super::listing::list_images;
use super::{ImageRecord, Skipped};
use crate::error::DataError;
use std::path::Path;

/// The labelled images below `dir`; unparseable names go to `skipped`.
pub(super) fn read(dir: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<ImageRecord>, DataError> {
    let mut out = Vec::new();
    for path in list_images(dir)? {
        match parse_market_name(&path) {
            Ok((pid, camid)) => out.push(ImageRecord {
                path,
                pid,
                camid: Some(camid),
            }),
            Err(reason) => skipped.push(Skipped { path, reason }),
        }
    }
    Ok(out)
}

/// Whether the camera part of a parsed name is Market's `c<camera>s<sequence>` (else Duke's
/// bare `c<camera>`).
pub(super) fn has_sequence(path: &Path) -> bool {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    stem.split('_').nth(1).is_some_and(|cam| {
        let rest = cam
            .trim_start_matches('c')
            .trim_start_matches(|c: char| c.is_ascii_digit());
        rest.starts_with('s')
    })
}

/// `(pid, camid)` from a Market-1501 or Duke file name such as `0002_c1s1_000451_03.jpg`.
pub fn parse_market_name(path: &Path) -> Result<(i32, u32), String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| "file name is not UTF-8".to_owned())?;
    let mut parts = stem.split('_');
    let pid_part = parts.next().unwrap_or_default();
    let pid: i32 = pid_part
        .parse()
        .map_err(|_| format!("`{pid_part}` is not a person id"))?;
    if pid < -1 {
        return Err(format!("person id {pid} is below -1"));
    }
    let cam_part = parts.next().unwrap_or_default();
    let digits: String = cam_part
        .strip_prefix('c')
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let camid = digits
        .parse()
        .map_err(|_| format!("`{cam_part}` does not start with c<camera>"))?;
    Ok((pid, camid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_market_and_duke_names() {
        assert_eq!(
            parse_market_name(Path::new("0002_c1s1_000451_03.jpg")),
            Ok((2, 1))
        );
        assert_eq!(
            parse_market_name(Path::new("-1_c3s2_000001_01.jpg")),
            Ok((-1, 3))
        );
        assert_eq!(
            parse_market_name(Path::new("0000_c6s4_002452_02.png")),
            Ok((0, 6))
        );
        assert_eq!(
            parse_market_name(Path::new("0005_c8_f0046182.jpg")),
            Ok((5, 8))
        );
        assert_eq!(parse_market_name(Path::new("1001_c12.jpg")), Ok((1001, 12)));
        assert!(parse_market_name(Path::new("person.jpg")).is_err());
        assert!(parse_market_name(Path::new("0001_x1s1.jpg")).is_err());
        assert!(parse_market_name(Path::new("-7_c1s1.jpg")).is_err());
        assert!(has_sequence(Path::new("0002_c1s1_000451_03.jpg")));
        assert!(!has_sequence(Path::new("0005_c8_f0046182.jpg")));
    }
}
