//! Active health checks on tokio: one task per upstream with
//! `health.active`, probing through the gateway's HTTP client every
//! `interval`. The probing and its state machine are the core's
//! ([`ActiveHealthCheck`]); this module only runs the timers.
//!
//! A supervisor watches the config the gateway serves. When a reload swaps
//! it (file change, SIGHUP or [`Gateway::reload`]), the old tasks stop and
//! the new config's start, within [`RELOAD_POLL`]. Check results are kept
//! by the gateway per upstream and endpoint, so restarting a task loses
//! nothing.

use std::sync::Arc;
use std::time::Duration;

use gateway_core::Gateway;
use gateway_core::health::ActiveHealthCheck;
use tokio::task::{JoinHandle, JoinSet};

/// How often the supervisor looks for a new config.
pub const RELOAD_POLL: Duration = Duration::from_millis(200);

/// Runs the active health checks of whatever config `gateway` serves until
/// the returned task is aborted (which stops every check).
pub fn supervise(gateway: Gateway) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut serving = None;
        let mut tasks = JoinSet::new();
        loop {
            let config = gateway.config();
            if serving.as_ref().is_none_or(|s| !Arc::ptr_eq(s, &config)) {
                // Dropping the tasks' futures stops their probes too.
                tasks.abort_all();
                for check in config.active_health_checks() {
                    tasks.spawn(run(check, gateway.clone()));
                }
                serving = Some(config);
            }
            tokio::time::sleep(RELOAD_POLL).await;
            // Reap finished (aborted) tasks so the set does not grow.
            while tasks.try_join_next().is_some() {}
        }
    })
}

/// Probes every `interval`, from now on, logging each change of health.
async fn run(check: ActiveHealthCheck, gateway: Gateway) {
    let mut tick = tokio::time::interval(check.interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for change in check.run_once(gateway.env()).await {
            if change.healthy {
                tracing::info!(
                    upstream = check.upstream(),
                    endpoint = %change.endpoint,
                    "endpoint passed its health checks; back in rotation"
                );
            } else {
                tracing::warn!(
                    upstream = check.upstream(),
                    endpoint = %change.endpoint,
                    "endpoint failed its health checks; out of rotation"
                );
            }
        }
    }
}
