//! CycloneDX 1.5 JSON: one component per binary (hashes, producers, licences, capabilities
//! as properties) with the crates of its `.dep-v0` section as nested components.
//!
//! Written by hand from the report data (the `cyclonedx-bom` crate would add a dependency
//! tree for a few dozen lines of JSON); the shape is checked against the 1.5 schema's
//! required fields and patterns by a test. The document is deterministic: no timestamp, and
//! the serial number is derived from the binaries' hashes.

use std::io::{self, Write};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Audit, Dependencies, PolicyStatus};

/// Percent-encodes a package URL segment (RFC 3986 unreserved characters stay).
fn purl_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn property(name: &str, value: &str) -> Value {
    json!({ "name": name, "value": value })
}

/// The CycloneDX 1.5 document of an audit.
pub fn cyclonedx_value(audit: &Audit) -> Value {
    let mut serial = Sha256::new();
    let mut components = Vec::new();
    for (i, b) in audit.binaries.iter().enumerate() {
        let id = &b.identity;
        serial.update(id.sha256.as_bytes());
        let bin_ref = format!("binary-{i}-{}", id.sha256);
        let mut properties = vec![
            property("wasmgate:kind", kind_name(id.kind)),
            property("wasmgate:verdict", b.verdict.as_str()),
        ];
        for p in &id.producers {
            properties.push(property(
                &format!("wasmgate:producer:{}", p.field),
                format!("{} {}", p.name, p.version).trim(),
            ));
        }
        for c in &b.capabilities {
            properties.push(property("wasmgate:capability", &c.capability));
            if let PolicyStatus::Denied { .. } = c.policy {
                properties.push(property("wasmgate:capability-denied", &c.capability));
            }
        }
        for f in &id.features {
            properties.push(property("wasmgate:feature", f));
        }
        if id.signature_section {
            properties.push(property("wasmgate:signature-section", "present"));
        }
        let mut component = json!({
            "type": "application",
            "bom-ref": bin_ref,
            "name": b.artifact,
            "hashes": [{ "alg": "SHA-256", "content": id.sha256 }],
            "properties": properties,
        });
        if let Some(v) = id.metadata.get("version") {
            component["version"] = json!(v);
        }
        if let Some(d) = id.metadata.get("description") {
            component["description"] = json!(d);
        }
        if let Some(a) = id.metadata.get("authors") {
            component["author"] = json!(a);
        }
        if let Some(l) = id.metadata.get("licenses") {
            // Free text from the binary: a licence name, not a validated SPDX expression.
            component["licenses"] = json!([{ "license": { "name": l } }]);
        }
        if let Dependencies::Listed { crates, .. } = &b.dependencies {
            let nested: Vec<Value> = crates
                .iter()
                .enumerate()
                .map(|(j, c)| {
                    json!({
                        "type": "library",
                        "bom-ref": format!("{bin_ref}-crate-{j}"),
                        "name": c.name,
                        "version": c.version,
                        "purl": format!(
                            "pkg:cargo/{}@{}",
                            purl_segment(&c.name),
                            purl_segment(&c.version)
                        ),
                        "scope": if c.kind == "build" { "excluded" } else { "required" },
                        "properties": [
                            property("wasmgate:crate-source", &c.source),
                            property("wasmgate:crate-kind", &c.kind),
                        ],
                    })
                })
                .collect();
            component["components"] = Value::Array(nested);
        }
        components.push(component);
    }
    let h = serial.finalize();
    let hex: String = h[..16].iter().map(|b| format!("{b:02x}")).collect();
    // A name-based UUID shape (version 5 nibble, RFC 4122 variant) from the binaries' hashes.
    let uuid = format!(
        "{}-{}-5{}-{:x}{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        8 | (u8::from_str_radix(&hex[16..17], 16).unwrap_or(0) & 3),
        &hex[17..20],
        &hex[20..32]
    );
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{uuid}"),
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{
                    "type": "application",
                    "name": "wasmgate",
                    "version": audit.wasmgate_version,
                }]
            }
        },
        "components": components,
    })
}

fn kind_name(k: wasmgate_analyzer::BinaryKind) -> &'static str {
    match k {
        wasmgate_analyzer::BinaryKind::Module => "module",
        wasmgate_analyzer::BinaryKind::Component => "component",
    }
}

/// Writes the CycloneDX 1.5 JSON document of an audit.
pub fn cyclonedx(audit: &Audit, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, &cyclonedx_value(audit))?;
    writeln!(w)
}
