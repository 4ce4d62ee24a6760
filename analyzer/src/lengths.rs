//! Byte lengths of what findings point at: the call instruction at the end of each witness
//! and each core function import entry. Reports (SARIF `byteLength`) need them, and only the
//! analyzer decodes the binary, so they are recorded here from the recorded offsets.

use crate::model::{Analysis, BinaryKind, EntryPoint, ExternKind, Import, Reach, SharedReach};

/// Length of an unsigned LEB128 u32 at `at`, as encoded (a hostile binary may pad it).
fn leb_u32(bytes: &[u8], at: usize) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for i in 0..5 {
        let b = *bytes.get(at.checked_add(i)?)?;
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A call instruction at `at`: `call`/`return_call` (function index), `call_ref`/
/// `return_call_ref` (type index), `call_indirect`/`return_call_indirect` (type and table).
fn call_length(bytes: &[u8], at: usize) -> Option<u64> {
    let immediates = match bytes.get(at)? {
        0x10 | 0x12 | 0x14 | 0x15 => 1,
        0x11 | 0x13 => 2,
        _ => return None,
    };
    let mut p = at + 1;
    for _ in 0..immediates {
        p += leb_u32(bytes, p)?.1;
    }
    Some((p - at) as u64)
}

/// A core function import entry at `at`: module name, name, kind 0x00, type index.
fn import_length(bytes: &[u8], at: usize) -> Option<u64> {
    let mut p = at;
    for _ in 0..2 {
        let (len, n) = leb_u32(bytes, p)?;
        p = p.checked_add(n)?.checked_add(len as usize)?;
    }
    if *bytes.get(p)? != 0x00 {
        return None;
    }
    let (_, n) = leb_u32(bytes, p + 1)?;
    Some((p + 1 + n - at) as u64)
}

fn fill_reaches(entries: &mut [EntryPoint], shared: &mut [SharedReach], bytes: &[u8]) {
    let per_entry = entries.iter_mut().flat_map(|e| e.reaches.iter_mut());
    for r in per_entry.chain(shared.iter_mut().map(|s| &mut s.witness)) {
        fill_reach(r, bytes);
    }
}

/// Fills `r.length` from the call instruction at its offset, if that is one.
pub(crate) fn fill_reach(r: &mut Reach, bytes: &[u8]) {
    r.length = r
        .offset
        .and_then(|o| usize::try_from(o).ok())
        .and_then(|o| call_length(bytes, o));
}

fn fill_imports(imports: &mut [Import], bytes: &[u8]) {
    for i in imports.iter_mut().filter(|i| i.kind == ExternKind::Func) {
        i.length = usize::try_from(i.offset)
            .ok()
            .and_then(|o| import_length(bytes, o));
    }
}

/// Fills `Reach::length` and `Import::length` wherever the bytes at the recorded offset are
/// the expected instruction or entry; anything else stays unknown.
pub(crate) fn fill(a: &mut Analysis, bytes: &[u8]) {
    fill_reaches(&mut a.entry_points, &mut a.shared_reaches, bytes);
    // A component's own imports are component-level entries, not core ones.
    if a.kind == BinaryKind::Module {
        fill_imports(&mut a.imports, bytes);
    }
    if let Some(c) = &mut a.component {
        for m in &mut c.modules {
            fill_reaches(&mut m.entry_points, &mut m.shared_reaches, bytes);
            fill_imports(&mut m.imports, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_leb_counts_as_encoded() {
        // call 0 with the index padded to 5 bytes.
        assert_eq!(
            call_length(&[0x10, 0x80, 0x80, 0x80, 0x80, 0x00], 0),
            Some(6)
        );
        assert_eq!(call_length(&[0x10, 0x05], 0), Some(2));
        assert_eq!(call_length(&[0x11, 0x05, 0x00], 0), Some(3));
        assert_eq!(call_length(&[0x14, 0x81, 0x01], 0), Some(3));
        assert_eq!(call_length(&[0x1a, 0x00], 0), None);
        assert_eq!(call_length(&[0x10, 0x80], 0), None);
        // "m" "f" func type 3
        assert_eq!(import_length(&[1, b'm', 1, b'f', 0x00, 3], 0), Some(6));
        assert_eq!(import_length(&[1, b'm', 1, b'f', 0x02, 0, 1], 0), None);
    }
}
