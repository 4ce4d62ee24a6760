//! Preopened directories as copies, so the host is never modified.
//!
//! Each granted host directory is copied into a fresh temporary directory and the copy is
//! what the guest sees. The copy never follows a symbolic link (a link inside the granted
//! directory could point anywhere on the host): links, FIFOs, sockets and devices are left
//! out and listed, so a guest can neither escape through them nor block on them. Copied
//! files get a fixed modification time, so two runs show the guest the same timestamps.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

/// One directory the guest may open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreopenGrant {
    /// Host directory to copy.
    pub host: PathBuf,
    /// Path the guest sees.
    pub guest: String,
    /// Whether the guest may write (to the copy).
    pub writable: bool,
}

/// What was copied for one preopen.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PreopenReport {
    pub guest: String,
    pub writable: bool,
    /// Regular files copied.
    pub files: u64,
    /// Entries left out (relative paths): links and special files.
    pub skipped: Vec<String>,
}

/// Fixed timestamp of every copied file (the virtual wall clock's start).
const FIXED_MTIME: Duration = crate::virt::WALL_START;

/// Copies `from` (a directory, not followed if it is a link) into `to`, which must not exist.
pub fn copy_tree(from: &Path, to: &Path, report: &mut PreopenReport) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} is not a directory", from.display()),
        ));
    }
    fs::create_dir(to)?;
    copy_dir(from, to, Path::new(""), report)
}

fn copy_dir(from: &Path, to: &Path, rel: &Path, report: &mut PreopenReport) -> std::io::Result<()> {
    // Sorted, so `skipped` and the creation order do not depend on the host's directory order.
    let mut entries = fs::read_dir(from)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let rel = rel.join(&name);
        // `file_type` of a directory entry does not follow links.
        let ty = entry.file_type()?;
        let dst = to.join(&name);
        if ty.is_dir() {
            fs::create_dir(&dst)?;
            copy_dir(&entry.path(), &dst, &rel, report)?;
        } else if ty.is_file() {
            fs::copy(entry.path(), &dst)?;
            let f = fs::File::options().write(true).open(&dst)?;
            let t = SystemTime::UNIX_EPOCH + FIXED_MTIME;
            f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t))?;
            report.files += 1;
        } else {
            report.skipped.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_leaves_out_links_and_keeps_files() {
        let src = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "host secret").unwrap();
        fs::create_dir(src.path().join("sub")).unwrap();
        fs::write(src.path().join("sub/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink(outside.path(), src.path().join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), src.path().join("s")).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let to = dst.path().join("copy");
        let mut r = PreopenReport {
            guest: "/d".into(),
            writable: false,
            files: 0,
            skipped: vec![],
        };
        copy_tree(src.path(), &to, &mut r).unwrap();
        assert_eq!(fs::read_to_string(to.join("sub/a.txt")).unwrap(), "a");
        assert_eq!(r.files, 1);
        assert_eq!(r.skipped, vec!["escape".to_string(), "s".to_string()]);
        assert!(!to.join("escape").exists() && !to.join("s").exists());
        // The copied file carries the fixed time, not the host's.
        let m = fs::metadata(to.join("sub/a.txt"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(m, SystemTime::UNIX_EPOCH + FIXED_MTIME);
    }

    #[test]
    fn copy_refuses_a_link_as_the_granted_directory() {
        let outside = tempfile::tempdir().unwrap();
        let holder = tempfile::tempdir().unwrap();
        let link = holder.path().join("link");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let mut r = PreopenReport {
            guest: "/d".into(),
            writable: false,
            files: 0,
            skipped: vec![],
        };
        assert!(copy_tree(&link, &dst.path().join("c"), &mut r).is_err());
    }
}
