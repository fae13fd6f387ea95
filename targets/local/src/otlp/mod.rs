//! OTLP export of the spans the core records (OTLP/HTTP, protobuf).
//!
//! Configured the standard way, from the environment:
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (`/v1/traces` appended), plus
//! `OTEL_SERVICE_NAME` (default `gateway`), `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TIMEOUT`, which
//! the OpenTelemetry exporter reads itself. Without an endpoint (or with
//! `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`) nothing is
//! exported and the gateway records no spans.
//!
//! The request path only offers a finished [`Trace`] to a bounded
//! channel; a background task batches and exports. When the channel is
//! full the trace is dropped and counted, never waited for. Shutdown
//! exports what is queued.

mod convert;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use gateway_core::trace::Trace;
use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Requests' traces queued for export at most; more are dropped.
pub const QUEUE_TRACES: usize = 2048;
/// Most spans in one export request.
pub const MAX_BATCH_SPANS: usize = 512;
/// Longest time a span waits for its batch to fill.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);
/// The service name when `OTEL_SERVICE_NAME` is unset.
pub const DEFAULT_SERVICE_NAME: &str = "gateway";

/// Where the request path hands recorded traces. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SpanSink {
    tx: mpsc::Sender<Trace>,
    dropped: Arc<AtomicU64>,
}

impl SpanSink {
    /// Queues the response's recorded trace, if it has one; drops (and
    /// counts) it when the queue is full.
    pub fn offer<B>(&self, resp: &mut http::Response<B>) {
        let Some(trace) = resp.extensions_mut().remove::<Trace>() else {
            return;
        };
        if self.tx.try_send(trace).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(dropped = n, "span export queue full: traces dropped");
            }
        }
    }

    /// Traces dropped so far because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The running exporter.
#[derive(Debug)]
pub struct SpanExport {
    sink: SpanSink,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// Whether the environment asks for span export.
fn wanted(var: &dyn Fn(&str) -> Option<String>) -> bool {
    let set = |k: &str| var(k).is_some_and(|v| !v.trim().is_empty());
    let is = |k: &str, v: &str| var(k).is_some_and(|x| x.trim().eq_ignore_ascii_case(v));
    (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

impl SpanExport {
    /// Starts exporting if the environment configures an OTLP endpoint;
    /// `None` otherwise. Needs a tokio runtime.
    pub fn from_env() -> anyhow::Result<Option<Self>> {
        if !wanted(&|k| std::env::var(k).ok()) {
            return Ok(None);
        }
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()
            .context("configuring OTLP span export (OTEL_EXPORTER_OTLP_* variables)")?;
        let service = std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        exporter.set_resource(&Resource::builder().with_service_name(service).build());
        let (tx, rx) = mpsc::channel(QUEUE_TRACES);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(run(exporter, rx, stopped));
        Ok(Some(Self {
            sink: SpanSink {
                tx,
                dropped: Arc::default(),
            },
            stop,
            task,
        }))
    }

    /// The handle for the request path.
    pub fn sink(&self) -> SpanSink {
        self.sink.clone()
    }

    /// Exports what is queued, then stops.
    pub async fn shutdown(self) {
        let dropped = self.sink.dropped();
        let _ = self.stop.send(());
        let _ = self.task.await;
        if dropped > 0 {
            tracing::warn!(dropped, "traces dropped because the export queue was full");
        }
    }
}

/// Batches traces into export requests until told to stop, then flushes.
async fn run(
    exporter: opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<Trace>,
    mut stopped: oneshot::Receiver<()>,
) {
    let scope = InstrumentationScope::builder("gateway")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let mut batch: Vec<SpanData> = Vec::new();
    let mut tick = tokio::time::interval(EXPORT_INTERVAL);
    loop {
        tokio::select! {
            next = rx.recv() => match next {
                Some(trace) => {
                    batch.extend(convert::span_data(trace, &scope));
                    if batch.len() >= MAX_BATCH_SPANS {
                        export(&exporter, &mut batch).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => export(&exporter, &mut batch).await,
            _ = &mut stopped => break,
        }
    }
    rx.close();
    while let Ok(trace) = rx.try_recv() {
        batch.extend(convert::span_data(trace, &scope));
        if batch.len() >= MAX_BATCH_SPANS {
            export(&exporter, &mut batch).await;
        }
    }
    export(&exporter, &mut batch).await;
    if let Err(e) = exporter.shutdown() {
        tracing::debug!(error = %e, "span exporter shutdown");
    }
}

async fn export(exporter: &opentelemetry_otlp::SpanExporter, batch: &mut Vec<SpanData>) {
    if batch.is_empty() {
        return;
    }
    let spans = std::mem::take(batch);
    let n = spans.len();
    if let Err(e) = exporter.export(spans).await {
        tracing::warn!(error = %e, spans = n, "span export failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::trace::{SpanId, TraceContext, TraceId};

    fn traced() -> http::Response<()> {
        let mut resp = http::Response::new(());
        resp.extensions_mut().insert(Trace {
            context: TraceContext {
                trace_id: TraceId::from_bytes([1; 16]).expect("non-zero"),
                span_id: SpanId::from_bytes([2; 8]).expect("non-zero"),
                parent_span_id: None,
                sampled: true,
                tracestate: None,
            },
            spans: Vec::new(),
        });
        resp
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_waiting() {
        let (tx, mut rx) = mpsc::channel(1);
        let sink = SpanSink {
            tx,
            dropped: Arc::default(),
        };
        let mut untraced = http::Response::new(());
        sink.offer(&mut untraced);
        for _ in 0..3 {
            let mut resp = traced();
            sink.offer(&mut resp);
            assert!(
                resp.extensions().get::<Trace>().is_none(),
                "taken from the response"
            );
        }
        assert_eq!(sink.dropped(), 2);
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_err(), "only what fitted was queued");
    }

    #[test]
    fn export_needs_an_endpoint_and_is_not_disabled() {
        let with = |vars: &'static [(&'static str, &'static str)]| {
            wanted(&move |k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert!(!with(&[]));
        assert!(!with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]));
        assert!(with(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]));
        assert!(with(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://c:4318/v1/traces"
        )]));
        assert!(!with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]));
        assert!(!with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ]));
    }
}
