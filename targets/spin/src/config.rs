//! The config embedded at build time (by `build.rs`, through
//! `gateway-embed`, checked against this target's capabilities).

use gateway_embed::Embedded;

/// The embedded config.
pub const EMBEDDED: Embedded = gateway_embed::embedded!();

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::{Body, ClientInfo, Gateway};

    #[test]
    fn embedded_gateway_answers_unknown_paths_with_a_problem() {
        let config = EMBEDDED.load().expect("build.rs validated it");
        let gw = Gateway::new(config, gateway_testkit::test_env(100).env);
        let req = http::Request::builder()
            .uri("/__gateway_no_such_route__")
            .header("host", "localhost")
            .body(Body::empty())
            .expect("request");
        let resp = futures_executor::block_on(gw.handle(req, ClientInfo::default()));
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
}
