//! wasm-smith modules into the analyzer and a policy check: no panic, every valid module is
//! analysed, and every witness path is a real path in the call graph.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wasmgate_policy::{Date, ValidPolicy};

fn policy() -> &'static ValidPolicy {
    static POLICY: OnceLock<ValidPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        wasmgate_policy::load_str(Path::new("fuzz-policy.toml"), wasmgate_fuzz::SMITH_POLICY)
            .expect("the fuzz policy loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = arbitrary::Unstructured::new(data);
    let Ok(wasm) = wasmgate_fuzz::analyzer_module(&mut u) else {
        return;
    };
    // wasm-smith output is valid by construction: the analyzer must accept it.
    let a = match wasmgate_analyzer::analyze(&wasm) {
        Ok(a) => a,
        Err(e) => panic!("a valid wasm-smith module was rejected: {e}"),
    };
    let defects = wasmgate_fuzz::witness_defects(&a);
    assert!(defects.is_empty(), "{}", defects.join("\n"));
    let today = Date::parse("2026-01-01").expect("a date");
    let _ = wasmgate_policy::check(policy(), &a, "fuzz.wasm", today);
});
