//! The gateway as an AWS Lambda function (`bootstrap` of a custom runtime).
//!
//! Serves the config embedded at build time, or the file named by
//! `GATEWAY_CONFIG_FILE`. Logs go to stdout for CloudWatch: JSON when the
//! function's log format is JSON, level from `RUST_LOG` or the function's
//! log level.

use gateway_lambda::LambdaGateway;
use tracing_subscriber::EnvFilter;

fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_else(|_| "info".into());
        EnvFilter::new(level.to_ascii_lowercase())
    });
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    // CloudWatch stamps every line itself.
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time();
    if json {
        fmt.json().init();
    } else {
        fmt.init();
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = gateway_lambda::load_config()?;
    let gateway = LambdaGateway::from_config(config).await?;
    lambda_http::run(gateway).await
}
