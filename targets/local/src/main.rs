//! `local`: run the gateway on this machine, or check config files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway_core::PolicyRegistry;
use gateway_local::admin::{self, AdminOptions};
use gateway_local::{StartOptions, load_config, reload, start};

/// The API gateway, self-hosted.
#[derive(Debug, Parser)]
#[command(name = "local", version)]
struct Cli {
    /// Config file (YAML or JSON).
    #[arg(long, short, default_value = "gateway.yaml", global = true)]
    config: PathBuf,
    /// Listen address; overrides `server.listen`.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Do not reload when the config file changes.
    #[arg(long)]
    no_watch: bool,
    /// Worker threads (default: one per core).
    #[arg(long, env = "GATEWAY_WORKERS")]
    workers: Option<usize>,
    /// Admin API listen address (loopback by default; it starts only with
    /// a token).
    #[arg(long, env = "GATEWAY_ADMIN_LISTEN", default_value = admin::DEFAULT_ADMIN_LISTEN)]
    admin_listen: SocketAddr,
    /// File holding the admin API's bearer token (else `GATEWAY_ADMIN_TOKEN`).
    #[arg(long, env = "GATEWAY_ADMIN_TOKEN_FILE")]
    admin_token_file: Option<PathBuf>,
    /// Let the admin API listen on a non-loopback address.
    #[arg(long, env = "GATEWAY_ADMIN_ALLOW_REMOTE")]
    admin_allow_remote: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a config file; exit 1 and list every problem if it is invalid.
    Validate {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the routes of a config file: methods, hosts, path, target,
    /// policies in order and versioning.
    Routes {
        /// The file to read.
        file: PathBuf,
    },
    /// Print the OpenAPI 3.1 document (JSON) built from a config file's routes.
    Openapi {
        /// The file to read.
        file: PathBuf,
    },
    /// Print the JSON Schema of the config file format.
    Schema,
    /// Read an API key on stdin; print its SHA-256 digest for `consumers.*.api_keys`.
    HashKey,
    /// Read a password on stdin; print its Argon2id hash for `consumers.*.basic.password_hash`.
    HashPassword,
}

/// One line from stdin without its line ending.
fn read_secret() -> std::io::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn hash_command(password: bool) -> ExitCode {
    let secret = match read_secret() {
        Ok(s) if !s.is_empty() => s,
        _ => {
            eprintln!("give the secret on stdin, e.g. `printf %s \"$KEY\" | local hash-key`");
            return ExitCode::FAILURE;
        }
    };
    let out = if password {
        let mut salt = [0u8; 16];
        getrandom::getrandom(&mut salt)
            .map_err(|e| e.to_string())
            .and_then(|()| gateway_core::auth::hash_password(&secret, &salt))
    } else {
        Ok(gateway_core::auth::hash_api_key(&secret))
    };
    match out {
        Ok(h) => {
            println!("{h}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// The `routes` table: one row per route, columns padded to fit.
fn routes_table(routes: &[gateway_core::config::RouteSummary]) -> String {
    let or_any = |v: &[String]| {
        if v.is_empty() {
            "*".to_owned()
        } else {
            v.join(",")
        }
    };
    let mut rows = vec![
        [
            "ROUTE",
            "METHODS",
            "HOSTS",
            "PATH",
            "TARGET",
            "POLICIES",
            "VERSIONING",
        ]
        .map(str::to_owned),
    ];
    for r in routes {
        let mut path = r.info.path.clone();
        for h in &r.info.headers {
            path.push_str(&format!(" [{h}]"));
        }
        rows.push([
            r.name.clone(),
            or_any(&r.info.methods),
            or_any(&r.info.hosts),
            path,
            r.upstream.clone(),
            if r.policies.is_empty() {
                "-".to_owned()
            } else {
                r.policies.join(", ")
            },
            r.info.versioning.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The diagnostic log (human-readable, stderr, filtered by `GATEWAY_LOG`)
/// and the access log (one JSON line per request, stdout). Keep the guard
/// until exit: it flushes the access lines still buffered.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEWAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let diagnostic = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter)
        .with_filter(tracing_subscriber::filter::filter_fn(|m| {
            m.target() != gateway_local::access_log::TARGET
        }));
    let (access, guard) = gateway_local::access_log::layer();
    tracing_subscriber::registry()
        .with(diagnostic)
        .with(access)
        .init();
    guard
}

/// The admin listener's settings: the token from `--admin-token-file`,
/// else from `GATEWAY_ADMIN_TOKEN` (not a flag: command lines are visible
/// to every user of the machine).
fn admin_options(cli: &Cli) -> anyhow::Result<AdminOptions> {
    let token = match &cli.admin_token_file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("reading the admin token file {}: {e}", path.display())
        })?),
        None => std::env::var("GATEWAY_ADMIN_TOKEN").ok(),
    };
    Ok(AdminOptions {
        listen: cli.admin_listen,
        token,
        allow_remote: cli.admin_allow_remote,
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.clone();
    let server = start(StartOptions {
        config: config.clone(),
        listen: cli.listen,
        watch: !cli.no_watch,
        admin: Some(admin_options(&cli)?),
    })
    .await?;
    tracing::info!(addr = %server.addr(), config = %config.display(), "gateway listening");
    let shutdown = server.shutdown_handle();
    let gateway = server.gateway().clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    _ = term.recv() => break,
                    _ = hup.recv() => { reload::reload_now(&config, &gateway); }
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        let _ = shutdown.send(true);
    });
    server.wait().await;
    tracing::info!("gateway stopped");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Validate { file }) => match load_config(file) {
            Ok(cfg) => {
                println!("{}: ok ({} routes)", file.display(), cfg.routes().len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Routes { file }) => match load_config(file) {
            Ok(cfg) => {
                print!("{}", routes_table(&cfg.routes()));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::Openapi { file }) => match load_config(file) {
            Ok(cfg) => match serde_json::to_string_pretty(cfg.api().document()) {
                Ok(json) => {
                    use std::io::Write as _;
                    // A closed pipe (`| head`) is not an error of ours.
                    let _ = writeln!(std::io::stdout().lock(), "{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Some(Command::HashKey) => hash_command(false),
        Some(Command::HashPassword) => hash_command(true),
        Some(Command::Schema) => {
            let schema = gateway_core::config::json_schema(&PolicyRegistry::builtin());
            println!(
                "{}",
                serde_json::to_string_pretty(&schema).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        None => {
            let _access_log = init_logging();
            // One worker: a single-threaded runtime, with no work-stealing overhead.
            let mut builder = match cli.workers {
                Some(1) => tokio::runtime::Builder::new_current_thread(),
                Some(n) => {
                    let mut b = tokio::runtime::Builder::new_multi_thread();
                    b.worker_threads(n.max(1));
                    b
                }
                None => tokio::runtime::Builder::new_multi_thread(),
            };
            let rt = match builder.enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(run(cli)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
