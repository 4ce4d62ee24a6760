//! What the guest learns about its copied directories, made independent of the host.
//!
//! The copies are fresh files, so their inode numbers, change times and the order the host
//! lists them in differ from run to run (and wasmtime-wasi hashes `(dev, inode)` with a
//! per-process key). A guest that prints `stat` results or lists a directory would then
//! behave differently on two runs of the same input. This layer renumbers inodes in the
//! order the guest first sees them, replaces timestamps the host made during the run with
//! the virtual clock, and lists directories sorted by name.

use std::collections::HashMap;
use std::time::SystemTime;

use wasmtime_wasi::p1::types;

use crate::virt::{VirtualTime, WALL_START};

/// Size of a `dirent` header in guest memory (before the name).
pub const DIRENT_SIZE: usize = 24;

/// Inode renumbering and timestamp normalisation for one run.
#[derive(Debug)]
pub struct VirtFs {
    /// wasmtime-wasi's inode value -> the virtual one (1, 2, ... in order of first sight).
    inodes: HashMap<u64, u64>,
    /// Real time (ns since the epoch) when the sandbox was set up: any later timestamp was
    /// made by the host during the run.
    host_start_ns: u64,
    time: VirtualTime,
}

/// One directory entry as the guest reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirent {
    pub ino: u64,
    pub filetype: u8,
    pub name: Vec<u8>,
}

impl VirtFs {
    pub fn new(time: VirtualTime) -> VirtFs {
        let host_start_ns = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        VirtFs {
            inodes: HashMap::new(),
            host_start_ns,
            time,
        }
    }

    /// The virtual inode for a value wasmtime-wasi reported (0, "no inode", stays 0).
    pub fn ino(&mut self, real: u64) -> u64 {
        if real == 0 {
            return 0;
        }
        let next = self.inodes.len() as u64 + 1;
        *self.inodes.entry(real).or_insert(next)
    }

    /// A timestamp the host made during this run becomes the current virtual wall time;
    /// older ones (the fixed time of the copies, or one the guest set) are kept.
    pub fn timestamp(&self, t: u64) -> u64 {
        if t >= self.host_start_ns {
            let start = u64::try_from(WALL_START.as_nanos()).unwrap_or(u64::MAX);
            start.saturating_add(self.time.peek())
        } else {
            t
        }
    }

    pub fn filestat(&mut self, s: types::Filestat) -> types::Filestat {
        types::Filestat {
            ino: self.ino(s.ino),
            atim: self.timestamp(s.atim),
            mtim: self.timestamp(s.mtim),
            ctim: self.timestamp(s.ctim),
            ..s
        }
    }

    /// `.` and `..` first (as wasmtime-wasi lists them), then the rest sorted by name, with
    /// virtual inodes.
    pub fn order(&mut self, mut entries: Vec<Dirent>) -> Vec<Dirent> {
        let dots = entries
            .iter()
            .take(2)
            .take_while(|e| e.name == b"." || e.name == b"..")
            .count();
        entries[dots..].sort_by(|a, b| a.name.cmp(&b.name));
        for e in &mut entries {
            e.ino = self.ino(e.ino);
        }
        entries
    }
}

/// Parses the bytes `fd_readdir` wrote (whole entries only).
pub fn parse_dirents(mut buf: &[u8]) -> Vec<Dirent> {
    let mut out = Vec::new();
    while buf.len() >= DIRENT_SIZE {
        let ino = u64::from_le_bytes(buf[8..16].try_into().unwrap_or_default());
        let namlen = u32::from_le_bytes(buf[16..20].try_into().unwrap_or_default()) as usize;
        let filetype = buf[20];
        let Some(name) = buf.get(DIRENT_SIZE..DIRENT_SIZE + namlen) else {
            break;
        };
        out.push(Dirent {
            ino,
            filetype,
            name: name.to_vec(),
        });
        buf = &buf[DIRENT_SIZE + namlen..];
    }
    out
}

/// The bytes `fd_readdir` gives for `entries` from `cookie` on, cut at `cap` bytes the way
/// wasmtime-wasi cuts them (a full buffer tells the guest to read again).
pub fn render_dirents(entries: &[Dirent], cookie: u64, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let skip = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, e) in entries.iter().enumerate().skip(skip) {
        let mut head = [0u8; DIRENT_SIZE];
        head[0..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        head[8..16].copy_from_slice(&e.ino.to_le_bytes());
        head[16..20].copy_from_slice(&(e.name.len() as u32).to_le_bytes());
        head[20] = e.filetype;
        for part in [&head[..], &e.name[..]] {
            let room = cap - out.len();
            out.extend_from_slice(&part[..part.len().min(room)]);
            if out.len() == cap {
                return out;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ent(ino: u64, name: &str) -> Dirent {
        Dirent {
            ino,
            filetype: 4,
            name: name.as_bytes().to_vec(),
        }
    }

    #[test]
    fn listing_is_sorted_after_the_dots_with_inodes_in_order_of_first_sight() {
        let mut v = VirtFs::new(VirtualTime::default());
        let host = vec![
            ent(900, "."),
            ent(900, ".."),
            ent(77, "b"),
            ent(5, "a"),
            ent(900, "c"),
        ];
        let got = v.order(host);
        let names: Vec<_> = got.iter().map(|e| e.name.clone()).collect();
        assert_eq!(names, [&b"."[..], b"..", b"a", b"b", b"c"]);
        let inos: Vec<_> = got.iter().map(|e| e.ino).collect();
        assert_eq!(inos, [1, 1, 2, 3, 1]);
        // The same host inode keeps its number in later calls.
        assert_eq!(v.ino(77), 3);
        assert_eq!(v.ino(0), 0);
    }

    #[test]
    fn render_round_trips_and_cuts_like_wasmtime_wasi() {
        let es = vec![ent(1, "."), ent(1, ".."), ent(2, "file")];
        let all = render_dirents(&es, 0, 4096);
        assert_eq!(all.len(), 3 * DIRENT_SIZE + 1 + 2 + 4);
        assert_eq!(parse_dirents(&all), es);
        // From cookie 2: only "file", whose d_next is 3.
        let tail = render_dirents(&es, 2, 4096);
        assert_eq!(parse_dirents(&tail), &es[2..]);
        assert_eq!(u64::from_le_bytes(tail[0..8].try_into().unwrap()), 3);
        // A small buffer is filled completely, the last entry cut.
        assert_eq!(render_dirents(&es, 0, 30).len(), 30);
    }

    #[test]
    fn host_made_timestamps_become_virtual_time_and_older_ones_stay() {
        let t = VirtualTime::default();
        let v = VirtFs::new(t.clone());
        t.advance_to(5_000);
        let start = u64::try_from(WALL_START.as_nanos()).unwrap();
        assert_eq!(v.timestamp(start), start);
        assert_eq!(v.timestamp(v.host_start_ns + 1), start + 5_000);
    }
}
