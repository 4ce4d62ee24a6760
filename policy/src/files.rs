//! Opening files whose names come from users or from other files (policies, `extends`,
//! `wasmgate.toml`, baselines, binaries), which may be hostile.
//!
//! A FIFO blocks on `open` until a writer appears and a device such as `/dev/zero` never
//! ends, so a file is opened without blocking, its type checked on the open handle (no race
//! with a swap between check and open), and every read is capped.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Opens `path` for reading only if it is a regular file (after following symlinks).
/// Never blocks: a FIFO is opened non-blocking and then refused.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(file)
}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// The error for input past a cap, naming the cap.
pub fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than the maximum of {}", human_size(max)),
    )
}

/// `64 MiB`, `512 KiB`, `100 bytes`.
pub fn human_size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Appends everything `r` yields to `buf`, failing once `buf` would exceed `max` bytes.
pub fn read_capped(r: impl Read, max: u64, buf: &mut Vec<u8>) -> io::Result<()> {
    let room = max.saturating_sub(buf.len() as u64);
    r.take(room.saturating_add(1)).read_to_end(buf)?;
    if buf.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(())
}

/// Reads a regular file of at most `max` bytes (the size is checked before reading).
pub fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > max {
        return Err(too_large(max));
    }
    let mut buf = Vec::with_capacity(len as usize);
    read_capped(file, max, &mut buf)?;
    Ok(buf)
}

/// [`read_regular`] as UTF-8 text.
pub fn read_regular_text(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_regular(path, max)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_reads_at_the_byte() {
        let mut buf = Vec::new();
        read_capped(&[7u8; 10][..], 10, &mut buf).unwrap();
        assert_eq!(buf.len(), 10);
        let mut buf = Vec::new();
        let e = read_capped(&[7u8; 11][..], 10, &mut buf).unwrap_err();
        assert_eq!(e.to_string(), "larger than the maximum of 10 bytes");
        // What was read before counts against the cap.
        let mut buf = vec![0; 4];
        assert!(read_capped(&[7u8; 6][..], 10, &mut buf).is_ok());
        let mut buf = vec![0; 4];
        assert!(read_capped(&[7u8; 7][..], 10, &mut buf).is_err());
    }

    #[test]
    fn refuses_devices_and_directories() {
        for p in ["/dev/zero", "/dev/null", "/"] {
            if Path::new(p).exists() {
                let e = open_regular(Path::new(p)).unwrap_err();
                assert_eq!(e.to_string(), "not a regular file", "{p}");
            }
        }
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(64 << 20), "64 MiB");
        assert_eq!(human_size(512 << 10), "512 KiB");
        assert_eq!(human_size(1000), "1000 bytes");
    }
}
