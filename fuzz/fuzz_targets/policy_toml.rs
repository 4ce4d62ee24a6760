//! Arbitrary UTF-8 text into the policy loader: a policy or a diagnostic, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // `extends` is resolved against this path: a directory that does not exist, so relative
    // parents fail to load. Absolute device paths are skipped: reading one may never end.
    if ["/dev", "/proc", "/sys"].iter().any(|d| text.contains(d)) {
        return;
    }
    let _ = wasmgate_policy::load_str(Path::new("/nonexistent/wasmgate-fuzz/policy.toml"), text);
});
