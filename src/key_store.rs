//! Where the pseudonymisation key comes from (SPEC 3.4): the configured secret, or else a
//! random key kept in the user's config directory (never the data directory), created with mode
//! 0600 on first use so local runs work and pseudonyms stay stable between runs.
//! The one file lpmhss writes outside the data directory; it holds no patient data.

use crate::config::PrivacyConfig;
use rand::RngCore;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// How the key was obtained, for a one-time notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// From configuration or the environment.
    Configured,
    /// Read from an existing key file.
    File(PathBuf),
    /// Newly created in this key file.
    Created(PathBuf),
}

/// Errors obtaining the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No home/config directory to keep a key in.
    #[error("no pseudonymisation key configured and no user config directory to keep one in: set LPMHSS__PRIVACY__PSEUDONYMISATION_KEY")]
    NoConfigDir,
    /// The key file could not be read or written.
    #[error("pseudonymisation key file {0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// The key file exists but is empty or too short.
    #[error("pseudonymisation key file {0} holds no usable key (need at least 32 characters)")]
    TooShort(PathBuf),
}

/// The key to pseudonymise with, and where it came from.
pub fn resolve_key(
    privacy: &PrivacyConfig,
    data_dir: &Path,
) -> Result<(String, KeySource), KeyError> {
    if !privacy.pseudonymisation_key.is_empty() {
        return Ok((
            privacy.pseudonymisation_key.expose().to_string(),
            KeySource::Configured,
        ));
    }
    let path = if privacy.key_file.is_empty() {
        dirs::config_dir()
            .ok_or(KeyError::NoConfigDir)?
            .join("lpmhss")
            .join("pseudonymisation.key")
    } else {
        PathBuf::from(&privacy.key_file)
    };
    if let (Ok(k), Ok(d)) = (path.canonicalize(), data_dir.canonicalize()) {
        if k.starts_with(d) {
            // The key must never travel with the data it protects.
            return Err(KeyError::Io(
                path,
                std::io::Error::other("the key file must not be inside the data directory"),
            ));
        }
    }
    match fs::read_to_string(&path) {
        Ok(text) => {
            let key = text.trim().to_string();
            if key.len() < 32 {
                return Err(KeyError::TooShort(path));
            }
            Ok((key, KeySource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = create_key_file(&path)?;
            Ok((key, KeySource::Created(path)))
        }
        Err(e) => Err(KeyError::Io(path, e)),
    }
}

fn create_key_file(path: &Path) -> Result<String, KeyError> {
    let io = |e| KeyError::Io(path.to_path_buf(), e);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(io)?;
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let key = hex::encode(bytes);
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut f) => {
            f.write_all(key.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(key)
        }
        // Another process created it first: use theirs so pseudonyms agree.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = fs::read_to_string(path).map_err(io)?;
            Ok(text.trim().to_string())
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn privacy(key_file: &Path) -> PrivacyConfig {
        PrivacyConfig {
            pseudonymisation_key: Secret::default(),
            key_file: key_file.to_string_lossy().into_owned(),
        }
    }

    #[test]
    fn creates_once_with_mode_0600_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cfg").join("k");
        let data = dir.path().join("data");
        let (k1, s1) = resolve_key(&privacy(&file), &data).unwrap();
        assert!(matches!(s1, KeySource::Created(_)));
        let (k2, s2) = resolve_key(&privacy(&file), &data).unwrap();
        assert!(matches!(s2, KeySource::File(_)));
        assert_eq!(k1, k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn refuses_a_key_inside_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        fs::write(&file, "x".repeat(64)).unwrap();
        assert!(resolve_key(&privacy(&file), dir.path()).is_err());
    }
}
