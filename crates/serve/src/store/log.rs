//! The embedded store's file: `gallery.log`, an 8-byte magic then append-only frames
//! `[payload length u32][CRC-32 of payload u32][payload]` (little endian). A payload is an
//! enrolment (`1`, id u64, dim u32, dim × f32, metadata JSON length u32 + bytes, image length u32 +
//! bytes) or a deletion (`2`, id u64). A batch of frames is written at once and `fsync`ed before
//! the caller acknowledges it, so an acknowledged enrolment survives a crash; on opening, a torn
//! last frame (a crash mid-write) is cut off, and damage anywhere else is an error, never silent.

use super::StoreError;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"REIDGAL1";
const ADD: u8 = 1;
const DELETE: u8 = 2;
/// Frames larger than this are damage, not data (an image plus a 64k-d embedding fit easily).
const MAX_FRAME: u32 = 1 << 30;

/// A decoded frame.
#[derive(Debug)]
pub enum Record {
    Add {
        id: u64,
        embedding: Vec<f32>,
        meta_json: Vec<u8>,
        /// Where the image bytes are in the file: `(offset, length)`.
        image: Option<(u64, u32)>,
    },
    Delete {
        id: u64,
    },
}

/// Encodes an enrolment; returns the frame and where its image starts within the frame.
pub fn encode_add(id: u64, embedding: &[f32], meta_json: &[u8], image: &[u8]) -> (Vec<u8>, usize) {
    let mut p =
        Vec::with_capacity(1 + 8 + 4 + 4 * embedding.len() + 8 + meta_json.len() + image.len());
    p.push(ADD);
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&(embedding.len() as u32).to_le_bytes());
    embedding
        .iter()
        .for_each(|v| p.extend_from_slice(&v.to_le_bytes()));
    p.extend_from_slice(&(meta_json.len() as u32).to_le_bytes());
    p.extend_from_slice(meta_json);
    p.extend_from_slice(&(image.len() as u32).to_le_bytes());
    let image_at = 8 + p.len();
    p.extend_from_slice(image);
    (frame(p), image_at)
}

pub fn encode_delete(id: u64) -> Vec<u8> {
    let mut p = vec![DELETE];
    p.extend_from_slice(&id.to_le_bytes());
    frame(p)
}

fn frame(payload: Vec<u8>) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    f.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    f.extend_from_slice(&payload);
    f
}

/// The open log file.
pub struct Log {
    file: File,
    path: PathBuf,
    len: u64,
}

impl Log {
    /// Opens (or creates) the log at `path`, handing every record to `apply` in file order.
    pub fn open(
        path: &Path,
        mut apply: impl FnMut(Record) -> Result<(), String>,
    ) -> Result<Self, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_owned(),
            source,
        };
        let corrupt = |offset: u64, message: String| StoreError::Corrupt {
            path: path.to_owned(),
            offset,
            message,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        if file_len == 0 {
            file.write_all(MAGIC).map_err(io)?;
            file.sync_all().map_err(io)?;
            sync_dir(path)?;
            return Ok(Self {
                file,
                path: path.to_owned(),
                len: MAGIC.len() as u64,
            });
        }
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut magic = [0u8; 8];
        if reader.read_exact(&mut magic).is_err() || &magic != MAGIC {
            return Err(corrupt(0, "not a reid gallery log (bad magic)".into()));
        }
        let mut pos = MAGIC.len() as u64;
        let mut payload = Vec::new();
        let torn_at = loop {
            if pos == file_len {
                break None;
            }
            let mut header = [0u8; 8];
            if file_len - pos < 8 {
                break Some(pos);
            }
            reader.read_exact(&mut header).map_err(io)?;
            let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
            let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
            let end = pos + 8 + u64::from(len);
            if len > MAX_FRAME || end > file_len {
                break Some(pos);
            }
            payload.resize(len as usize, 0);
            reader.read_exact(&mut payload).map_err(io)?;
            if crc32fast::hash(&payload) != crc {
                if end == file_len {
                    break Some(pos);
                }
                return Err(corrupt(pos, "checksum mismatch inside the log".into()));
            }
            let record = decode(&payload, pos + 8).map_err(|m| corrupt(pos, m))?;
            apply(record).map_err(|m| corrupt(pos, m))?;
            pos = end;
        };
        drop(reader);
        if let Some(at) = torn_at {
            tracing::warn!(
                "{}: dropping an incomplete last record ({} bytes at offset {at}), left by a crash mid-write",
                path.display(),
                file_len - at
            );
            file.set_len(at).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        Ok(Self {
            file,
            path: path.to_owned(),
            len: torn_at.unwrap_or(file_len),
        })
    }

    /// The current end of the file, where the next frame goes.
    pub fn end(&self) -> u64 {
        self.len
    }

    /// Appends `bytes` (whole frames) and makes them durable before returning.
    pub fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let io = |source| StoreError::Io {
            path: self.path.clone(),
            source,
        };
        if let Err(e) = self
            .file
            .write_all(bytes)
            .and_then(|_| self.file.sync_data())
        {
            // Leave no partial frame behind for the next append to follow.
            let _ = self.file.set_len(self.len);
            return Err(io(e));
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Reads `len` bytes at `offset` (an image).
    pub fn read_at(&self, offset: u64, len: u32) -> Result<Vec<u8>, StoreError> {
        let mut buf = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|source| StoreError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(buf)
    }
}

/// Makes the creation of `path` itself durable.
fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })
}

/// Decodes a payload that starts at file offset `at`.
fn decode(p: &[u8], at: u64) -> Result<Record, String> {
    let mut r = Cursor { p, i: 0 };
    match r.take(1)?[0] {
        ADD => {
            let id = r.u64()?;
            let dim = r.u32()? as usize;
            let embedding = r
                .take(dim * 4)?
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect();
            let meta_len = r.u32()? as usize;
            let meta_json = r.take(meta_len)?.to_vec();
            let image_len = r.u32()?;
            let image_at = at + r.i as u64;
            r.take(image_len as usize)?;
            if r.i != p.len() {
                return Err("trailing bytes in an enrolment record".into());
            }
            Ok(Record::Add {
                id,
                embedding,
                meta_json,
                image: (image_len > 0).then_some((image_at, image_len)),
            })
        }
        DELETE => Ok(Record::Delete { id: r.u64()? }),
        op => Err(format!("unknown record type {op}")),
    }
}

struct Cursor<'a> {
    p: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self
            .p
            .get(self.i..self.i + n)
            .ok_or("record shorter than its fields")?;
        self.i += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}
