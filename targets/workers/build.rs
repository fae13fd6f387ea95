//! Embeds the gateway config in the worker.
//!
//! Reads `GATEWAY_CONFIG` (default: the workspace's `gateway.yaml`),
//! validates it with `gateway-core` and against the Workers target's
//! capabilities, and writes it to `OUT_DIR` for `include_str!`. An invalid
//! config fails the build with every problem listed, so a worker never
//! ships a config it cannot load or honour.

#[path = "src/capabilities.rs"]
#[allow(unreachable_pub, dead_code)]
mod capabilities;

use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=GATEWAY_CONFIG");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let path = match std::env::var_os("GATEWAY_CONFIG") {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_relative() {
                // Relative to the workspace root, where cargo is usually run.
                manifest_dir.join("../..").join(p)
            } else {
                p
            }
        }
        _ => manifest_dir.join("../../gateway.yaml"),
    };
    println!("cargo::rerun-if-changed={}", path.display());

    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => fail(&format!(
            "cannot read the gateway config {}: {e}",
            path.display()
        )),
    };
    let name = path.file_name().map_or_else(
        || "gateway.yaml".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let registry = gateway_core::PolicyRegistry::builtin();
    let checked = gateway_core::config::load_file_text(&name, &text, &registry)
        .and_then(|cfg| capabilities::capabilities().check(&cfg));
    match checked {
        Ok(warnings) => {
            for w in warnings {
                println!("cargo::warning={name}: {}: {}", w.path, w.message);
            }
        }
        Err(e) => {
            let mut msg = format!("the gateway config {} is invalid:", path.display());
            for p in &e.problems {
                let at = if p.path.is_empty() {
                    "(document)"
                } else {
                    p.path.as_str()
                };
                msg.push_str(&format!("\n  - {at}: {}", p.message));
            }
            fail(&msg);
        }
    }

    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("gateway.yaml"), &text) {
        fail(&format!("cannot write the embedded config: {e}"));
    }
    if let Err(e) = std::fs::write(out.join("gateway-config-name.txt"), &name) {
        fail(&format!("cannot write the embedded config name: {e}"));
    }
}

fn fail(msg: &str) -> ! {
    for line in msg.lines() {
        println!("cargo::error={line}");
    }
    eprintln!("{msg}");
    std::process::exit(1);
}
