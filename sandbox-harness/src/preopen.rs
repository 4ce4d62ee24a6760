//! Preopened directories as copies, so the host is never modified.
//!
//! Each granted host directory is copied into a fresh temporary directory and the copy is
//! what the guest sees. The copy never follows a symbolic link (a link inside the granted
//! directory could point anywhere on the host): links, FIFOs, sockets and devices are left
//! out and listed, so a guest can neither escape through them nor block on them. Copied
//! files get a fixed modification time, so two runs show the guest the same timestamps.
//!
//! After the run, each writable copy is compared with what was copied in, so the report can
//! say which files the guest created, changed or deleted (the host directory never changes).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The copies of a run's preopens: made and granted before the run, compared after it.
#[derive(Debug)]
pub(crate) struct Copies {
    reports: Vec<PreopenReport>,
    /// (index in `reports`, entries as copied, the copy) of each writable preopen.
    writable: Vec<(usize, Snapshot, PathBuf)>,
}

impl Copies {
    /// Copies each grant into `scratch` and preopens the copy in `b`, read-only or
    /// read-write as granted.
    pub(crate) fn make(
        grants: &[PreopenGrant],
        scratch: &Path,
        b: &mut wasmtime_wasi::WasiCtxBuilder,
    ) -> Result<Copies, crate::HarnessError> {
        let mut out = Copies {
            reports: Vec::new(),
            writable: Vec::new(),
        };
        for (i, p) in grants.iter().enumerate() {
            let mut report = PreopenReport {
                guest: p.guest.clone(),
                writable: p.writable,
                files: 0,
                skipped: Vec::new(),
                changes: Vec::new(),
            };
            let copy = scratch.join(i.to_string());
            let preopen_err = |source| crate::HarnessError::Preopen {
                host: p.host.clone(),
                source,
            };
            copy_tree(&p.host, &copy, &mut report).map_err(preopen_err)?;
            if p.writable {
                let before = snapshot(&copy).map_err(preopen_err)?;
                out.writable.push((out.reports.len(), before, copy.clone()));
            }
            let perms = if p.writable {
                wasmtime_wasi::FsPerms::ReadWrite
            } else {
                wasmtime_wasi::FsPerms::ReadOnly
            };
            b.preopened_dir(&copy, &p.guest, perms)
                .map_err(|e| crate::HarnessError::Setup(format!("{e:#}")))?;
            out.reports.push(report);
        }
        Ok(out)
    }

    /// The reports, with what the guest created, changed or deleted in each writable copy.
    /// Call it once the guest's files are closed (the store dropped).
    pub(crate) fn finish(
        mut self,
        grants: &[PreopenGrant],
    ) -> Result<Vec<PreopenReport>, crate::HarnessError> {
        for (at, before, copy) in self.writable {
            let after = snapshot(&copy).map_err(|source| crate::HarnessError::Preopen {
                host: grants[at].host.clone(),
                source,
            })?;
            self.reports[at].changes = changes(&before, &after);
        }
        Ok(self.reports)
    }
}

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
    /// What the guest created, changed or deleted in the copy, by path (writable copies only).
    pub changes: Vec<FileChange>,
}

/// How an entry of a writable copy differs after the run.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Created,
    Changed,
    Deleted,
}

/// What an entry is: only regular files have a size and content hash.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    File,
    Dir,
    /// A symbolic link the guest made (its target is hashed as its content).
    Link,
    Other,
}

/// One created, changed or deleted entry of a writable copy.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileChange {
    /// Path relative to the preopen, `/`-separated.
    pub path: String,
    pub change: ChangeKind,
    pub kind: EntryKind,
    /// Size in bytes after the run (before it, for a deleted entry).
    pub size: u64,
    /// SHA-256 of the content after the run (before it, for a deleted entry).
    pub sha256: String,
    /// Size and hash before the run, for a changed entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_sha256: Option<String>,
}

/// One entry of a copy as [`snapshot`] saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    kind: EntryKind,
    size: u64,
    sha256: String,
}

/// Every entry under a copy, by relative path; links are not followed.
pub type Snapshot = BTreeMap<String, Seen>;

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

/// Records every entry under `root` (which the sandbox made, so it is a real directory).
pub fn snapshot(root: &Path) -> std::io::Result<Snapshot> {
    let mut out = Snapshot::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let ty = entry.file_type()?;
            let seen = if ty.is_dir() {
                stack.push((entry.path(), rel.clone()));
                Seen {
                    kind: EntryKind::Dir,
                    size: 0,
                    sha256: hex(&Sha256::digest(b"")),
                }
            } else if ty.is_file() {
                let (size, sha256) = hash_file(&entry.path())?;
                Seen {
                    kind: EntryKind::File,
                    size,
                    sha256,
                }
            } else if ty.is_symlink() {
                let target = fs::read_link(entry.path())?;
                let bytes = target.to_string_lossy().into_owned().into_bytes();
                Seen {
                    kind: EntryKind::Link,
                    size: bytes.len() as u64,
                    sha256: hex(&Sha256::digest(&bytes)),
                }
            } else {
                Seen {
                    kind: EntryKind::Other,
                    size: 0,
                    sha256: hex(&Sha256::digest(b"")),
                }
            };
            out.insert(rel, seen);
        }
    }
    Ok(out)
}

/// Created, changed and deleted entries from `before` to `after`, sorted by path.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<FileChange> {
    let mut out = Vec::new();
    for (path, a) in after {
        match before.get(path) {
            None => out.push(FileChange {
                path: path.clone(),
                change: ChangeKind::Created,
                kind: a.kind,
                size: a.size,
                sha256: a.sha256.clone(),
                old_size: None,
                old_sha256: None,
            }),
            Some(b) if b != a => out.push(FileChange {
                path: path.clone(),
                change: ChangeKind::Changed,
                kind: a.kind,
                size: a.size,
                sha256: a.sha256.clone(),
                old_size: Some(b.size),
                old_sha256: Some(b.sha256.clone()),
            }),
            Some(_) => {}
        }
    }
    for (path, b) in before {
        if !after.contains_key(path) {
            out.push(FileChange {
                path: path.clone(),
                change: ChangeKind::Deleted,
                kind: b.kind,
                size: b.size,
                sha256: b.sha256.clone(),
                old_size: None,
                old_sha256: None,
            });
        }
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}

/// Size and SHA-256 of a file, read in blocks (a guest can write large files).
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, hex(&h.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
            changes: vec![],
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
            changes: vec![],
        };
        assert!(copy_tree(&link, &dst.path().join("c"), &mut r).is_err());
    }
}

#[cfg(test)]
mod change_tests {
    use super::*;

    #[test]
    fn changes_name_created_changed_and_deleted_entries_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::write(r.join("same"), "x").unwrap();
        fs::write(r.join("edit"), "old").unwrap();
        fs::write(r.join("gone"), "bye").unwrap();
        fs::create_dir(r.join("sub")).unwrap();
        let before = snapshot(r).unwrap();
        fs::write(r.join("edit"), "newer").unwrap();
        fs::remove_file(r.join("gone")).unwrap();
        fs::write(r.join("sub/new"), "abc").unwrap();
        let after = snapshot(r).unwrap();
        let c = changes(&before, &after);
        let got: Vec<_> = c
            .iter()
            .map(|c| (c.path.as_str(), c.change, c.kind, c.size, c.old_size))
            .collect();
        assert_eq!(
            got,
            [
                ("edit", ChangeKind::Changed, EntryKind::File, 5, Some(3)),
                ("gone", ChangeKind::Deleted, EntryKind::File, 3, None),
                ("sub/new", ChangeKind::Created, EntryKind::File, 3, None),
            ]
        );
        // sha256("abc")
        assert_eq!(
            c[2].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(changes(&after, &after).is_empty());
    }
}
