//! Frames in and out. In: a video file decoded by the `ffmpeg` binary (Debian's) into raw RGB
//! frames on a pipe, or a folder of images in name order. A truncated or damaged video yields
//! its good frames and then a [`TrackError::Video`] naming the file, the frame and ffmpeg's
//! message. Out: annotated frames encoded back into a video by `ffmpeg`.

use crate::error::TrackError;
use image::RgbImage;
use reid_data::Preprocessor;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

fn spawn_err(program: &str) -> impl FnOnce(std::io::Error) -> TrackError + '_ {
    move |e| TrackError::Tool {
        program: program.to_owned(),
        message: format!("cannot run it ({e}); install Debian's ffmpeg"),
    }
}

/// Size, frame rate and (when the container says) frame count of a video, from `ffprobe`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoInfo {
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub frames: Option<usize>,
}

pub fn probe(path: &Path) -> Result<VideoInfo, TrackError> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args([
            "stream=width,height,avg_frame_rate,nb_frames",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .map_err(spawn_err("ffprobe"))?;
    let bad = |message: String| TrackError::Video {
        path: path.to_owned(),
        frame: 0,
        message,
    };
    if !out.status.success() {
        return Err(bad(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| bad(format!("unreadable ffprobe answer: {e}")))?;
    let stream = &json["streams"][0];
    let number = |key: &str| {
        stream[key]
            .as_u64()
            .or_else(|| stream[key].as_str().and_then(|s| s.parse().ok()))
            .filter(|&v| v > 0)
    };
    let (Some(width), Some(height)) = (number("width"), number("height")) else {
        return Err(bad("no video stream".into()));
    };
    let fps = stream["avg_frame_rate"]
        .as_str()
        .and_then(|r| {
            let (n, d) = r.split_once('/')?;
            let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
            (d > 0.0 && n > 0.0).then_some(n / d)
        })
        .unwrap_or(25.0);
    Ok(VideoInfo {
        width: width as u32,
        height: height as u32,
        fps,
        frames: number("nb_frames").map(|n| n as usize),
    })
}

/// Where frames come from.
pub enum FrameSource {
    Video {
        path: PathBuf,
        info: VideoInfo,
        child: Child,
        stdout: ChildStdout,
        /// Collects ffmpeg's messages (a thread, so that a chatty ffmpeg never blocks).
        stderr: Option<JoinHandle<String>>,
        next: usize,
        done: bool,
    },
    Images {
        paths: Vec<PathBuf>,
        next: usize,
    },
}

impl FrameSource {
    /// Starts decoding `path`.
    pub fn video(path: &Path) -> Result<Self, TrackError> {
        let info = probe(path)?;
        let mut child = Command::new("ffmpeg")
            // -xerror: stop at the first damaged frame instead of concealing it.
            .args(["-v", "error", "-xerror", "-nostdin", "-i"])
            .arg(path)
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err("ffmpeg"))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Ok(Self::Video {
            path: path.to_owned(),
            info,
            child,
            stdout,
            stderr: Some(stderr),
            next: 0,
            done: false,
        })
    }

    /// The images of `dir`, in name order.
    pub fn images(dir: &Path) -> Result<Self, TrackError> {
        let paths = reid_data::dataset::list_images(dir)?;
        if paths.is_empty() {
            return Err(TrackError::NoFrames(dir.to_owned()));
        }
        Ok(Self::Images { paths, next: 0 })
    }

    /// Frames per second (25 for image folders).
    pub fn fps(&self) -> f64 {
        match self {
            Self::Video { info, .. } => info.fps,
            Self::Images { .. } => 25.0,
        }
    }

    /// The next frame and its index; `None` at the end.
    pub fn next_frame(&mut self) -> Option<Result<(usize, RgbImage), TrackError>> {
        match self {
            Self::Images { paths, next } => {
                let path = paths.get(*next)?;
                let i = *next;
                *next += 1;
                Some(
                    Preprocessor::decode(path)
                        .map(|img| (i, img))
                        .map_err(Into::into),
                )
            }
            Self::Video {
                path,
                info,
                child,
                stdout,
                stderr,
                next,
                done,
            } => {
                if *done {
                    return None;
                }
                let mut buf = vec![0u8; (info.width * info.height * 3) as usize];
                let mut filled = 0;
                while filled < buf.len() {
                    match stdout.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                if filled == buf.len() {
                    let i = *next;
                    *next += 1;
                    let img =
                        RgbImage::from_raw(info.width, info.height, buf).expect("w × h × 3 bytes");
                    return Some(Ok((i, img)));
                }
                // The end: clean, or damage ffmpeg reported.
                *done = true;
                let status = child.wait().ok();
                let said = stderr
                    .take()
                    .and_then(|t| t.join().ok())
                    .unwrap_or_default();
                let message = said.trim();
                let short = info.frames.filter(|&n| *next < n);
                let message = if !message.is_empty() {
                    message.lines().take(3).collect::<Vec<_>>().join("; ")
                } else if status.is_some_and(|s| !s.success()) {
                    "ffmpeg failed".to_owned()
                } else if filled > 0 {
                    "the video ends in the middle of a frame".to_owned()
                } else if let Some(n) = short {
                    format!("the video ends here, but its header announces {n} frames (truncated?)")
                } else {
                    return None;
                };
                Some(Err(TrackError::Video {
                    path: path.clone(),
                    frame: *next,
                    message,
                }))
            }
        }
    }
}

impl Drop for FrameSource {
    fn drop(&mut self) {
        if let Self::Video { child, .. } = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Annotated frames encoded to a video file by `ffmpeg` (H.264 in MP4).
pub struct VideoWriter {
    path: PathBuf,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl VideoWriter {
    pub fn create(path: &Path, width: u32, height: u32, fps: f64) -> Result<Self, TrackError> {
        let mut child = Command::new("ffmpeg")
            .args([
                "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
            ])
            .arg(format!("{width}x{height}"))
            .arg("-r")
            .arg(format!("{fps}"))
            .args([
                "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            ])
            // H.264 wants even sizes.
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_err("ffmpeg"))?;
        let stdin = child.stdin.take();
        Ok(Self {
            path: path.to_owned(),
            child,
            stdin,
        })
    }

    pub fn write(&mut self, frame: &RgbImage) -> Result<(), TrackError> {
        let stdin = self.stdin.as_mut().expect("open until finish");
        stdin
            .write_all(frame.as_raw())
            .map_err(|source| TrackError::Write {
                path: self.path.clone(),
                source,
            })
    }

    /// Closes the stream and waits for the file to be complete.
    pub fn finish(mut self) -> Result<(), TrackError> {
        drop(self.stdin.take());
        let out = self.child.wait_with_output().map_err(spawn_err("ffmpeg"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(TrackError::Tool {
                program: "ffmpeg".into(),
                message: format!(
                    "encoding {}: {}",
                    self.path.display(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            })
        }
    }
}
