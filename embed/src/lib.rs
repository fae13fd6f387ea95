//! The config a serverless or edge target carries inside its artefact.
//!
//! A target's `build.rs` calls [`embed_config`]: it reads `GATEWAY_CONFIG`
//! (default: the workspace's `gateway.yaml`; a relative path is taken from
//! the workspace root), validates it with the core and against the target's
//! [`Capabilities`], and writes it to `OUT_DIR`. An invalid config fails the
//! build with every problem listed, so no artefact ships a config it cannot
//! load or honour. The target's code then takes the text with
//! [`embedded!`] and loads it with [`Embedded::load`].

use std::path::{Path, PathBuf};

use gateway_core::capabilities::CapabilityWarning;
use gateway_core::config::vars::VarLookup;
use gateway_core::{Capabilities, ConfigError, GatewayConfig, PolicyRegistry};

/// The environment variable through which Spin and Workers take a config
/// text at start instead of the embedded one (Lambda names a file with
/// `GATEWAY_CONFIG_FILE`).
pub const CONFIG_TEXT_ENV: &str = "GATEWAY_CONFIG_TEXT";

/// Parses and validates a config text named `name`, with `${NAME}`
/// references replaced by `var(NAME)`, and checks it against the target's
/// capabilities (computed from the parsed config). Returns the config with
/// the warnings for settings the target ignores.
pub fn check_text(
    name: &str,
    text: &str,
    var: VarLookup<'_>,
    capabilities: impl FnOnce(&GatewayConfig) -> Capabilities,
) -> Result<(GatewayConfig, Vec<CapabilityWarning>), ConfigError> {
    let config = gateway_core::config::load_file_text_with_vars(
        name,
        text,
        &PolicyRegistry::builtin(),
        var,
    )?;
    let warnings = capabilities(&config).check(&config)?;
    Ok((config, warnings))
}

/// The file in `OUT_DIR` holding the config text.
pub const TEXT_FILE: &str = "gateway.yaml";
/// The file in `OUT_DIR` holding the config's file name.
pub const NAME_FILE: &str = "gateway-config-name.txt";

/// A config embedded at build time.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    /// The file name it was read from, for messages.
    pub name: &'static str,
    /// Its YAML or JSON text.
    pub text: &'static str,
}

impl Embedded {
    /// Parses and validates the config. The build script validated it
    /// already, so this fails only if the core changed in between, which
    /// one workspace rules out, or if a variable it references is not set
    /// on the platform; callers answer with a 500 problem rather than
    /// panic. `var` looks up the `${NAME}` references (the platform's
    /// environment, secrets or variables), which are resolved here, at
    /// start, and never embedded.
    pub fn load(&self, var: VarLookup<'_>) -> Result<GatewayConfig, ConfigError> {
        gateway_core::config::load_file_text_with_vars(
            self.name,
            self.text,
            &PolicyRegistry::builtin(),
            var,
        )
    }
}

/// The config that the crate's build script embedded with
/// [`embed_config`], as an [`Embedded`].
#[macro_export]
macro_rules! embedded {
    () => {
        $crate::Embedded {
            name: include_str!(concat!(env!("OUT_DIR"), "/gateway-config-name.txt")),
            text: include_str!(concat!(env!("OUT_DIR"), "/gateway.yaml")),
        }
    };
}

/// For `build.rs`: reads, checks and embeds the config (see the crate
/// documentation). `capabilities` gives the target's capabilities for the
/// parsed config (some depend on its store). Exits the build script with
/// the problems listed when the config is unreadable or invalid.
pub fn embed_config(capabilities: impl FnOnce(&GatewayConfig) -> Capabilities) {
    println!("cargo::rerun-if-env-changed=GATEWAY_CONFIG");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // Targets live at `targets/<name>`, two levels below the workspace root.
    let root = manifest_dir.join("../..");
    let path = config_path(&root, std::env::var_os("GATEWAY_CONFIG"));
    println!("cargo::rerun-if-changed={}", path.display());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        fail(&format!(
            "cannot read the gateway config {}: {e}",
            path.display()
        ))
    });
    let name = path.file_name().map_or_else(
        || TEXT_FILE.to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    // Variables are resolved on the platform at start; the embedded text
    // keeps the references. The check takes a variable's value from the
    // build environment when set there (for values whose shape is checked,
    // such as URLs), else a placeholder long enough for a secret.
    let build_var = |name: &str| {
        println!("cargo::rerun-if-env-changed={name}");
        Some(std::env::var(name).unwrap_or_else(|_| placeholder(name)))
    };
    match check_text(&name, &text, &build_var, capabilities) {
        Ok((_, warnings)) => {
            for w in warnings {
                println!("cargo::warning={name}: {}: {}", w.path, w.message);
            }
        }
        Err(e) => fail(&invalid_message(&path, &e)),
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    for (file, contents) in [(TEXT_FILE, text.as_str()), (NAME_FILE, name.as_str())] {
        if let Err(e) = std::fs::write(out.join(file), contents) {
            fail(&format!("cannot write {file} to OUT_DIR: {e}"));
        }
    }
}

/// The stand-in for a variable not set at build time: 40+ bytes, so it
/// passes as an HMAC secret or token in the build-time check.
fn placeholder(name: &str) -> String {
    format!("build-time-placeholder-for-{name}-0123456789abcdef")
}

/// `GATEWAY_CONFIG` resolved against the workspace `root`.
fn config_path(root: &Path, var: Option<std::ffi::OsString>) -> PathBuf {
    match var {
        Some(p) if !p.is_empty() => root.join(p),
        _ => root.join("gateway.yaml"),
    }
}

/// The build failure text: the file, then one line per problem.
fn invalid_message(path: &Path, e: &ConfigError) -> String {
    let mut msg = format!("the gateway config {} is invalid:", path.display());
    for p in &e.problems {
        let at = if p.path.is_empty() {
            "(document)"
        } else {
            p.path.as_str()
        };
        msg.push_str(&format!("\n  - {at}: {}", p.message));
    }
    msg
}

fn fail(msg: &str) -> ! {
    for line in msg.lines() {
        println!("cargo::error={line}");
    }
    eprintln!("{msg}");
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::config::ConfigProblem;
    use gateway_core::config::vars::no_vars;

    #[test]
    fn relative_paths_start_at_the_workspace_root() {
        let root = Path::new("/ws");
        assert_eq!(config_path(root, None), Path::new("/ws/gateway.yaml"));
        assert_eq!(
            config_path(root, Some("".into())),
            Path::new("/ws/gateway.yaml")
        );
        assert_eq!(
            config_path(root, Some("conf/edge.yaml".into())),
            Path::new("/ws/conf/edge.yaml")
        );
        assert_eq!(
            config_path(root, Some("/abs/gw.json".into())),
            Path::new("/abs/gw.json")
        );
    }

    #[test]
    fn failures_list_every_problem_with_its_field() {
        let e = ConfigError {
            file: "gw.yaml".into(),
            problems: vec![
                ConfigProblem::new("routes[0].upstream", "unknown upstream `x`"),
                ConfigProblem::new("", "empty"),
            ],
        };
        assert_eq!(
            invalid_message(Path::new("/ws/gw.yaml"), &e),
            "the gateway config /ws/gw.yaml is invalid:\n  - routes[0].upstream: unknown upstream `x`\n  - (document): empty"
        );
    }

    #[test]
    fn texts_are_checked_against_capabilities() {
        let caps = |_: &GatewayConfig| Capabilities {
            target: "edge",
            shared_state: false,
            atomic_counters: false,
            exact_counters_hint: "no way",
            platform_store: None,
            background_work: true,
            file_system: false,
            listener: false,
            redis: false,
            max_concurrent_subrequests: None,
            active_health_checks: false,
            dns_discovery: false,
        };
        let (_, warnings) = check_text(
            "env",
            "version: 1\nserver: { listen: 127.0.0.1:1 }\n",
            &no_vars,
            caps,
        )
        .expect("accepted");
        assert_eq!(warnings.len(), 1);
        let err = check_text("env", "version: 1\nstore: redis://h:1\n", &no_vars, caps)
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("env: store: target `edge` cannot reach Redis"),
            "{err}"
        );
    }

    #[test]
    fn embedded_configs_load_with_their_name() {
        let e = Embedded {
            name: "edge.yaml",
            text: "version: 1\n",
        };
        assert_eq!(e.load(&no_vars).expect("valid").source(), "edge.yaml");
        let bad = Embedded {
            name: "edge.yaml",
            text: "version: 2\n",
        };
        // Variables come from the platform at load time, never from the text.
        let secret = "version: 1\njwt_issuers: { i: { algorithms: [HS256], keys: [{ secret: \"${KEY}\" }] } }\n";
        let e = Embedded {
            name: "edge.yaml",
            text: secret,
        };
        let err = e.load(&no_vars).expect_err("unset").to_string();
        assert!(err.contains("variable `KEY` is not set"), "{err}");
        let key = |n: &str| (n == "KEY").then(|| "k".repeat(32));
        assert!(e.load(&key).is_ok());
        assert!(placeholder("KEY").len() >= 32);
        assert!(
            bad.load(&no_vars)
                .expect_err("invalid")
                .to_string()
                .contains("edge.yaml")
        );
    }
}
