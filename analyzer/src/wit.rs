//! The component's WIT world, printed for humans. Best effort: the decoder rejects some
//! valid components (and panics on a few unusual ones), and that must never fail an analysis.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

thread_local! {
    /// Set while this thread runs the third-party decoder, whose panics we catch and report.
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// The WIT text of the package holding the component's world.
pub(crate) fn world(bytes: &[u8]) -> Result<String, String> {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !DECODING.with(Cell::get) {
                previous(info);
            }
        }));
    });
    DECODING.with(|d| d.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| decode(bytes)));
    DECODING.with(|d| d.set(false));
    result.unwrap_or_else(|_| Err("the WIT decoder failed on this component".into()))
}

fn decode(bytes: &[u8]) -> Result<String, String> {
    let decoded = wit_parser::decoding::decode(bytes).map_err(|e| format!("{e:#}"))?;
    let (resolve, package) = match decoded {
        wit_parser::decoding::DecodedWasm::Component(resolve, world) => {
            let package = resolve.worlds[world]
                .package
                .ok_or("the world belongs to no package")?;
            (resolve, package)
        }
        wit_parser::decoding::DecodedWasm::WitPackage(resolve, package) => (resolve, package),
    };
    let mut printer = wit_component::WitPrinter::default();
    printer
        .print(&resolve, package, &[])
        .map_err(|e| format!("{e:#}"))?;
    Ok(printer.output.to_string())
}
