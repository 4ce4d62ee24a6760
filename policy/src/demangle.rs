//! Readable names for mangled symbols.
//!
//! Witness paths and function names come from a binary's name section, where Rust and C++
//! compilers leave mangled symbols (`_ZN3std2rt19lang_start_internal17h38aa...E`). People read
//! `std::rt::lang_start_internal` far better, so every output for people shows the demangled
//! form, and JSON keeps the raw name beside it.
//!
//! Mangled names are attacker-chosen: a demangler can be driven into deep recursion or into
//! output exponential in the input (C++ substitutions). So a name longer than
//! [`MAX_MANGLED_BYTES`], a parse or print nesting deeper than [`MAX_DEPTH`], or a result
//! longer than [`MAX_DEMANGLED_BYTES`] stays raw. The result is still untrusted text (a
//! Rust identifier may hold any Unicode, C++ template arguments quote literals): callers
//! escape it like any other name.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// Longest mangled name demangled. Real C++ template symbols of the corpus stay well below.
pub const MAX_MANGLED_BYTES: usize = 4096;

/// Longest demangled text kept; past it demangling stops and the name stays raw.
pub const MAX_DEMANGLED_BYTES: usize = 8192;

/// Nesting limit for the C++ parser and printer (rustc-demangle has its own, lower one).
pub const MAX_DEPTH: u32 = 64;

/// The readable form of `name` when it is a Rust (legacy or v0) or C++ (Itanium) symbol
/// within the limits and differs from `name`; `None` otherwise. Rust hashes (`::h1234...`)
/// are left out: they tell builds apart, not functions, and JSON keeps the raw name.
pub fn demangle(name: &str) -> Option<String> {
    if name.len() > MAX_MANGLED_BYTES {
        return None;
    }
    // Inside a component a function is `instance:name`; a mangled symbol holds no `:`.
    if let Some((instance, symbol)) = name.rsplit_once(':') {
        return symbol_only(symbol).map(|d| format!("{instance}:{d}"));
    }
    symbol_only(name)
}

fn symbol_only(name: &str) -> Option<String> {
    // Emscripten and macOS toolchains may add one more leading underscore.
    let symbol = name.strip_prefix("__Z").map_or(name, |_| &name[1..]);
    if !(symbol.starts_with("_Z") || symbol.starts_with("_R")) {
        return None;
    }
    let out = rust(symbol).or_else(|| cpp(symbol))?;
    (out != name && !out.is_empty()).then_some(out)
}

fn rust(symbol: &str) -> Option<String> {
    let d = rustc_demangle::try_demangle(symbol).ok()?;
    let mut out = Capped::default();
    // The alternate form leaves out the hash. An error is our cap or rustc-demangle's own.
    write!(out, "{d:#}").ok()?;
    // rustc-demangle prints this instead of failing when its own limit is reached.
    (!out.0.contains("{size limit reached}")).then_some(out.0)
}

fn cpp(symbol: &str) -> Option<String> {
    let parse = cpp_demangle::ParseOptions::default().recursion_limit(MAX_DEPTH);
    let sym = cpp_demangle::BorrowedSymbol::new_with_options(symbol.as_bytes(), &parse).ok()?;
    let print = cpp_demangle::DemangleOptions::default().recursion_limit(MAX_DEPTH);
    let mut out = Capped::default();
    // Printing into the capped writer stops at the cap instead of building an exponential
    // string first.
    sym.structured_demangle(&mut out, &print).ok()?;
    Some(out.0)
}

/// A string that refuses to grow past [`MAX_DEMANGLED_BYTES`].
#[derive(Default)]
struct Capped(String);

impl Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.len() + s.len() > MAX_DEMANGLED_BYTES {
            return Err(fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

/// `name` in backquotes, followed by its readable form in parentheses when it has one: for
/// messages, where the raw name must stay (it is what a waiver or an `allow` entry matches).
pub fn quoted(name: &str) -> String {
    match demangle(name) {
        Some(d) => format!("`{name}` ({d})"),
        None => format!("`{name}`"),
    }
}

/// The readable form of each of `names` that has one, keyed by the raw name.
pub fn table<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, String> {
    names
        .into_iter()
        .filter_map(|n| demangle(n).map(|d| (n.to_string(), d)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_legacy_v0_and_cpp_symbols_are_demangled() {
        let cases = [
            // Rust legacy, from corpus Rust binaries (hash left out).
            (
                "_ZN3std2rt19lang_start_internal17h38aa3d6ef7a1c1f1E",
                "std::rt::lang_start_internal",
            ),
            // Rust v0.
            ("_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example"),
            // C++ Itanium, with the extra leading underscore some toolchains add.
            ("_ZN5space3fooEibc", "space::foo(int, bool, char)"),
            ("__ZN5space3fooEibc", "space::foo(int, bool, char)"),
        ];
        for (raw, want) in cases {
            assert_eq!(demangle(raw).as_deref(), Some(want), "{raw}");
        }
    }

    #[test]
    fn a_component_function_keeps_its_instance_prefix() {
        assert_eq!(
            demangle(
                "wasi_snapshot_preview1:_RNvNtCsi4CVahZSHti_22wasi_snapshot_preview16macros5print"
            )
            .as_deref(),
            Some("wasi_snapshot_preview1:wasi_snapshot_preview1::macros::print")
        );
        assert_eq!(demangle("wasi:cli/exit@0.2.12#exit"), None);
        assert_eq!(demangle("main:_start"), None);
    }

    #[test]
    fn plain_and_malformed_names_stay_raw() {
        for raw in [
            "main",
            "__original_main",
            "_Z",
            "_ZN",
            "_R",
            "_Zgarbage\u{1b}[2J",
            "",
            ":",
        ] {
            assert_eq!(demangle(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn a_name_over_the_length_limit_stays_raw() {
        // A valid C++ symbol, one byte too long.
        let ident = "a".repeat(MAX_MANGLED_BYTES);
        let raw = format!("_ZN{}{}Ev", ident.len(), ident);
        assert!(raw.len() > MAX_MANGLED_BYTES);
        assert_eq!(demangle(&raw), None);
        let short = "_ZN1aEv";
        assert_eq!(demangle(short).as_deref(), Some("a()"));
    }

    #[test]
    fn deep_nesting_stays_raw_without_overflowing_the_stack() {
        // Pointer to pointer to ... 2,000 levels: far past MAX_DEPTH.
        let raw = format!("_Z1fP{}i", "P".repeat(2000));
        assert_eq!(demangle(&raw), None);
        // Nested template arguments, Rust v0 nested paths.
        let raw = format!("_Z1fI{}iEv", "N1aI".repeat(500));
        assert_eq!(demangle(&raw), None);
        let raw = format!("_RNv{}C1a1b", "Nv".repeat(1500));
        assert_eq!(demangle(&raw), None);
    }

    #[test]
    fn output_past_the_cap_stays_raw() {
        // A 200-character class name, then 100 back-references (`S0_`) to it: a 500-byte symbol
        // whose demangled text is over 20,000 characters.
        let ident = "b".repeat(200);
        let raw = format!("_Z1fIJ{}{ident}{}EEv", ident.len(), "S0_".repeat(100));
        assert!(raw.len() <= MAX_MANGLED_BYTES);
        assert_eq!(demangle(&raw), None);
        // The same shape with 10 back-references fits and is demangled.
        let raw = format!("_Z1fIJ{}{ident}{}EEv", ident.len(), "S0_".repeat(10));
        let got = demangle(&raw).expect("within the cap");
        assert_eq!(got.matches(&ident).count(), 11, "{got}");
    }

    #[test]
    fn control_characters_inside_a_symbol_survive_demangling_for_the_escaper() {
        // A Rust v0 identifier may be Punycode for any Unicode; a C++ source name is bytes.
        // Whatever comes out is untrusted: it must still carry the ESC so the escaping
        // layer shows it, rather than the demangler dropping or interpreting it.
        let raw = "_ZN4a\u{1b}[2EEv";
        let got = demangle(raw);
        if let Some(d) = &got {
            assert!(d.contains('\u{1b}'), "{d:?}");
        }
        let rendered = wasmgate_escape::terminal(got.as_deref().unwrap_or(raw)).into_owned();
        assert!(!rendered.contains('\u{1b}'), "{rendered:?}");
    }

    #[test]
    fn quoted_keeps_the_raw_name_first() {
        assert_eq!(quoted("_ZN1aEv"), "`_ZN1aEv` (a())");
        assert_eq!(quoted("main"), "`main`");
    }
}
