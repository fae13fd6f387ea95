//! The config embedded at build time.
//!
//! `build.rs` validated it already, so loading it again at instance start
//! fails only if the core changed between the build script and the
//! worker, which the same workspace rules out; the handler still answers
//! with a 500 problem rather than panicking if it ever does.

use gateway_core::{ConfigError, Env, Gateway, GatewayConfig, PolicyRegistry};

/// The YAML text of the embedded config.
pub const EMBEDDED_CONFIG: &str = include_str!(concat!(env!("OUT_DIR"), "/gateway.yaml"));

/// The file name the config was read from, for error messages.
pub const EMBEDDED_CONFIG_NAME: &str =
    include_str!(concat!(env!("OUT_DIR"), "/gateway-config-name.txt"));

/// Parses and validates the embedded config.
pub fn load_embedded() -> Result<GatewayConfig, ConfigError> {
    gateway_core::config::load_file_text(
        EMBEDDED_CONFIG_NAME,
        EMBEDDED_CONFIG,
        &PolicyRegistry::builtin(),
    )
}

/// A gateway over the embedded config in `env`.
pub fn gateway(env: Env) -> Result<Gateway, ConfigError> {
    Ok(Gateway::new(load_embedded()?, env))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::{Body, ClientInfo};

    #[test]
    fn embedded_config_loads() {
        let cfg = load_embedded().expect("build.rs validated it");
        assert!(!EMBEDDED_CONFIG_NAME.is_empty());
        assert!(!cfg.source().is_empty());
    }

    #[test]
    fn embedded_gateway_answers_unknown_paths_with_a_problem() {
        let t = gateway_testkit::test_env(100);
        let gw = gateway(t.env).expect("loads");
        let req = http::Request::builder()
            .uri("/__gateway_workers_no_such_route__")
            .header("host", "localhost")
            .body(Body::empty())
            .expect("request");
        let resp = futures_executor::block_on(gw.handle(req, ClientInfo::default()));
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}
