//! The access log and per-request metrics of the self-hosted target.
//!
//! After each request the server takes the core's
//! [`Exchange`](gateway_core::observe::Exchange) from the response: the
//! access log line goes out as a `tracing` event on the [`TARGET`] target
//! (written to stdout as it is by [`layer`], one JSON object per line,
//! apart from the diagnostic log on stderr), and the measurements go to the
//! `metrics` facade (whose recorder, if any, the admin listener installs).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use gateway_core::observe::{self, Exchange, MetricKind};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` target of access log events.
pub const TARGET: &str = "access_log";

/// Whether a `metrics` recorder is installed: without one the per-request
/// measurements (and their label allocations) are skipped.
static METRICS_ON: AtomicBool = AtomicBool::new(false);

/// Turns on per-request measurements; called once a recorder is installed.
pub fn enable_metrics() {
    METRICS_ON.store(true, Ordering::Relaxed);
}

/// Completes the response's record with the latency measured since
/// `started` (monotonic), then writes its access log line and metrics.
pub fn record<B>(resp: &mut http::Response<B>, started: Instant) {
    let Some(x) = resp.extensions_mut().get_mut::<Exchange>() else {
        return;
    };
    x.latency = started.elapsed();
    if x.settings().enabled && tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        let line = observe::log_line(x);
        tracing::info!(target: TARGET, "{line}");
    }
    if METRICS_ON.load(Ordering::Relaxed) {
        emit_metrics(x);
    }
}

/// Feeds `x`'s measurements to the `metrics` facade.
pub fn emit_metrics(x: &Exchange) {
    observe::measurements(x, |m| {
        let labels: Vec<metrics::Label> = m
            .labels
            .iter()
            .map(|(k, v)| metrics::Label::new(*k, (*v).to_owned()))
            .collect();
        match m.kind {
            MetricKind::Counter => metrics::counter!(m.name, labels).increment(m.value as u64),
            MetricKind::Histogram => metrics::histogram!(m.name, labels).record(m.value),
        }
    });
}

/// Writes an event's message alone, then a newline: the access log line
/// as the core made it, with nothing added.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageOnly;

struct Message<'a, 'w> {
    out: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Visit for Message<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.result = self.out.write_str(value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.result = write!(self.out, "{value:?}");
        }
    }
}

impl<S, N> FormatEvent<S, N> for MessageOnly
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut message = Message {
            out: &mut writer,
            result: Ok(()),
        };
        event.record(&mut message);
        message.result?;
        writeln!(writer)
    }
}

/// The layer that writes access log events, and only those, to stdout.
///
/// Lines go through a writer thread (`tracing-appender`), so a slow reader
/// of stdout never stalls the request path: when its buffer of 128k lines
/// is full, lines are dropped (and counted by the appender) instead. Keep
/// the guard until exit: dropping it flushes the lines still buffered.
pub fn layer<S>() -> (impl tracing_subscriber::Layer<S>, WorkerGuard)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
    let layer = tracing_subscriber::fmt::layer()
        .event_format(MessageOnly)
        .with_writer(writer)
        .with_filter(
            tracing_subscriber::filter::Targets::new().with_target(TARGET, tracing::Level::INFO),
        );
    (layer, guard)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use gateway_core::{Body, ClientInfo, Gateway, MemoryStore, PolicyRegistry};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;

    fn gateway() -> Gateway {
        let yaml = r#"
version: 1
upstreams:
  hello: { mock: { status: 200, json: { hi: 1 } } }
routes:
  - { name: hello, path: /hello, upstream: hello }
"#;
        let cfg = gateway_core::config::load_file_text("t.yaml", yaml, &PolicyRegistry::builtin())
            .expect("config");
        let clock = Arc::new(gateway_tokio::SystemClock);
        let store = Arc::new(MemoryStore::new(clock, 16));
        let env = gateway_tokio::tokio_env(store, Arc::new(gateway_tokio::HyperClient::default()));
        Gateway::new(cfg, env)
    }

    #[tokio::test]
    async fn measurements_reach_the_metrics_facade_with_their_labels() {
        let gw = gateway();
        let mut seen = Vec::new();
        for path in ["/hello", "/hello", "/nowhere"] {
            let req = http::Request::get(path)
                .body(Body::empty())
                .expect("request");
            let resp = gw.handle(req, ClientInfo::default()).await;
            let x = resp
                .extensions()
                .get::<Exchange>()
                .expect("exchange")
                .clone();
            seen.push(x);
        }
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || seen.iter().for_each(emit_metrics));
        let snapshot = snapshotter.snapshot().into_vec();
        let find = |name: &str, labels: &[(&str, &str)]| {
            snapshot
                .iter()
                .find(|(key, _, _, _)| {
                    let k = key.key();
                    k.name() == name
                        && labels.len() == k.labels().count()
                        && labels
                            .iter()
                            .all(|(n, v)| k.labels().any(|l| l.key() == *n && l.value() == *v))
                })
                .map(|(_, _, _, value)| value)
        };
        let requests = |route, class| {
            find(
                "gateway_requests_total",
                &[("route", route), ("method", "GET"), ("status_class", class)],
            )
        };
        assert_eq!(requests("hello", "2xx"), Some(&DebugValue::Counter(2)));
        assert_eq!(requests("unmatched", "4xx"), Some(&DebugValue::Counter(1)));
        match find(
            "gateway_request_duration_seconds",
            &[("route", "hello"), ("status_class", "2xx")],
        ) {
            Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 2),
            other => panic!("no duration histogram: {other:?}"),
        }
        match find(
            "gateway_upstream_duration_seconds",
            &[("upstream", "hello"), ("status_class", "2xx")],
        ) {
            Some(DebugValue::Histogram(samples)) => assert_eq!(samples.len(), 2),
            other => panic!("no upstream histogram: {other:?}"),
        }
        assert_eq!(
            find("gateway_response_bytes_total", &[("route", "hello")]),
            Some(&DebugValue::Counter(2 * br#"{"hi":1}"#.len() as u64))
        );
    }

    #[test]
    fn the_line_is_written_as_it_is() {
        use std::sync::Mutex;
        use tracing_subscriber::layer::SubscriberExt as _;

        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let layer = tracing_subscriber::fmt::layer()
            .event_format(MessageOnly)
            .with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: TARGET, "{}", r#"{"log":"access","status":200}"#);
        });
        let out = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8");
        assert_eq!(out, "{\"log\":\"access\",\"status\":200}\n");
    }
}
