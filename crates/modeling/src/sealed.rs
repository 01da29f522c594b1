//! Model files sealed with the user's key (`-k KEY`, as TAO encrypts its models): the magic
//! `REIDSEAL`, a u32 format version, a random 16-byte salt and 12-byte nonce, then the plain
//! file encrypted and authenticated with AES-256-GCM under PBKDF2-HMAC-SHA256(key, salt). The
//! header is authenticated too, so a wrong key or any changed byte fails to open with a clear
//! error. Every model file reid writes (checkpoints, ONNX exports) goes through [`write`]
//! (sealed when a key is given, atomically either way) and every one it reads through [`read`].

use crate::error::ModelError;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"REIDSEAL";
const VERSION: u32 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = MAGIC.len() + 4 + SALT_LEN + NONCE_LEN;
/// PBKDF2 rounds (OWASP's 2023 figure for HMAC-SHA256).
const ROUNDS: u32 = 600_000;

/// The user's key for sealed model files.
#[derive(Clone)]
pub struct ModelKey(String);

impl std::fmt::Debug for ModelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModelKey(…)")
    }
}

impl ModelKey {
    /// A key from the user's passphrase; empty ones are refused.
    pub fn new(passphrase: &str) -> Result<Self, ModelError> {
        if passphrase.is_empty() {
            return Err(ModelError::Config("the model key (-k) is empty".into()));
        }
        Ok(Self(passphrase.to_owned()))
    }

    fn cipher(&self, salt: &[u8]) -> Aes256Gcm {
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(self.0.as_bytes(), salt, ROUNDS, &mut key);
        Aes256Gcm::new(&key.into())
    }
}

/// Whether `bytes` are a sealed file.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// `plain` sealed with `key`.
pub fn seal(plain: &[u8], key: &ModelKey) -> Vec<u8> {
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    let mut random = [0u8; SALT_LEN + NONCE_LEN];
    rand::rng().fill_bytes(&mut random);
    header.extend_from_slice(&random);
    let (salt, nonce) = random.split_at(SALT_LEN);
    let sealed = key
        .cipher(salt)
        .encrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: plain,
                aad: &header,
            },
        )
        .expect("AES-GCM encrypts any size reid writes");
    header.extend_from_slice(&sealed);
    header
}

/// The plain contents of a sealed file's `bytes`.
fn unseal(path: &Path, bytes: &[u8], key: Option<&ModelKey>) -> Result<Vec<u8>, ModelError> {
    let fail = |message: String| ModelError::Sealed {
        path: path.to_owned(),
        message,
    };
    let Some(key) = key else {
        return Err(fail(
            "the file is encrypted; give its key with -k KEY".into(),
        ));
    };
    if bytes.len() < HEADER_LEN {
        return Err(fail("the encrypted file is truncated".into()));
    }
    let (header, body) = bytes.split_at(HEADER_LEN);
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != VERSION {
        return Err(fail(format!(
            "encryption format {version} is not supported (this reid reads {VERSION})"
        )));
    }
    let (salt, nonce) = header[12..].split_at(SALT_LEN);
    key.cipher(salt)
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: header,
            },
        )
        .map_err(|_| {
            fail("cannot decrypt: wrong key (-k), or the file was changed or damaged".into())
        })
}

/// The plain contents of the model file at `path` (decrypted with `key` when it is sealed).
pub fn read(path: &Path, key: Option<&ModelKey>) -> Result<Vec<u8>, ModelError> {
    if !path.is_file() {
        return Err(ModelError::MissingFile(path.to_owned()));
    }
    let bytes = std::fs::read(path).map_err(|e| ModelError::Load {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if is_sealed(&bytes) {
        unseal(path, &bytes, key)
    } else {
        Ok(bytes)
    }
}

/// Whether the model file at `path` is sealed.
pub fn is_sealed_file(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok_and(|()| &magic == MAGIC)
}

/// Writes `plain` to `path` (sealed with `key` when one is given) through a temporary file in
/// the same folder, renamed over `path` once synced: an interrupted write leaves no damaged file.
pub fn write(path: &Path, plain: &[u8], key: Option<&ModelKey>) -> std::io::Result<()> {
    let sealed;
    let bytes = match key {
        Some(key) => {
            sealed = seal(plain, key);
            &sealed[..]
        }
        None => plain,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = shared_tempfile(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A temporary file in `dir` to be renamed over a result file, readable by others like a file
/// made by `File::create` (a plain temporary file is private to its owner).
pub fn shared_tempfile(dir: &Path) -> std::io::Result<tempfile::NamedTempFile> {
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    builder.tempfile_in(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_files_open_with_their_key_only_and_refuse_any_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let plain = b"model bytes".repeat(1000);
        let key = ModelKey::new("nvidia_tao").unwrap();
        write(&path, &plain, Some(&key)).unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert!(is_sealed(&on_disk) && is_sealed_file(&path));
        assert!(!on_disk.windows(11).any(|w| w == b"model bytes"));
        assert_eq!(read(&path, Some(&key)).unwrap(), plain);

        let err = |k: Option<&ModelKey>| read(&path, k).unwrap_err().to_string();
        assert!(err(None).contains("give its key with -k"), "{}", err(None));
        let wrong = ModelKey::new("other").unwrap();
        assert!(
            err(Some(&wrong)).contains("wrong key"),
            "{}",
            err(Some(&wrong))
        );
        for at in [14, HEADER_LEN + 5, on_disk.len() - 1] {
            let mut bad = on_disk.clone();
            bad[at] ^= 1;
            std::fs::write(&path, &bad).unwrap();
            assert!(err(Some(&key)).contains("changed or damaged"), "byte {at}");
        }
        // Two seals of the same bytes differ (fresh salt and nonce); plain files pass through.
        assert_ne!(seal(&plain, &key), seal(&plain, &key));
        write(&path, &plain, None).unwrap();
        assert_eq!(read(&path, Some(&key)).unwrap(), plain);
        assert!(ModelKey::new("").is_err());
    }
}
