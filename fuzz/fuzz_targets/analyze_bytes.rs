//! Raw bytes into the analyzer: any input gives an analysis or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = wasmgate_analyzer::analyze(data) {
        // Whatever the analyzer accepts must carry real witness paths too.
        let defects = wasmgate_fuzz::witness_defects(&a);
        assert!(defects.is_empty(), "{}", defects.join("\n"));
    }
});
