//! Embeds the gateway config at build time, validated by `gateway-core` and
//! checked against the Lambda target's capabilities; an invalid config fails
//! the build with every problem listed.
//!
//! The file is `$GATEWAY_CONFIG`, or the repository's `gateway.yaml`.

#[path = "src/capabilities.rs"]
#[allow(unreachable_pub)]
mod capabilities;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    println!("cargo:rerun-if-env-changed=GATEWAY_CONFIG");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let path = match std::env::var_os("GATEWAY_CONFIG") {
        Some(p) => manifest.join(p),
        None => manifest.join("../../gateway.yaml"),
    };
    println!("cargo:rerun-if-changed={}", path.display());
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "error: cannot read the gateway config {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let registry = gateway_core::PolicyRegistry::builtin();
    let checked = gateway_core::config::load_file_text(&name, &text, &registry)
        .and_then(|cfg| capabilities::capabilities(&cfg.store).check(&cfg));
    match checked {
        Ok(warnings) => {
            for w in warnings {
                println!("cargo:warning={name}: {}: {}", w.path, w.message);
            }
        }
        Err(e) => {
            eprintln!("error: the gateway config {} is invalid:", path.display());
            for line in e.to_string().lines() {
                eprintln!("  {line}");
            }
            return ExitCode::FAILURE;
        }
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::write(out.join("gateway.yaml"), &text) {
        eprintln!("error: cannot write the embedded config: {e}");
        return ExitCode::FAILURE;
    }
    println!("cargo:rustc-env=GATEWAY_EMBEDDED_CONFIG_NAME={name}");
    ExitCode::SUCCESS
}
