//! Durability primitives: fsync a file and its directory, atomic replace. The local
//! filesystem's rename is atomic but not durable until the directory itself is synced.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// fsync the directory holding `path`, making a create or rename in it durable.
pub fn sync_parent_dir(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Write `bytes` to `tmp`, fsync, rename over `dest`, fsync the directory.
pub fn replace_file(tmp: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(tmp, dest)?;
    sync_parent_dir(dest)
}

/// Create `dir` and its parents, syncing each newly created level's parent.
pub fn create_dir_durable(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => sync_parent_dir(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
