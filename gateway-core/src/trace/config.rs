//! The top-level `tracing:` section: which requests are sampled.

use schemars::JsonSchema;
use serde::Deserialize;

use super::ids::TraceId;
use crate::config::Problems;

/// Distributed tracing (W3C Trace Context). The gateway always passes a
/// `traceparent` to upstreams; this section decides which traces are
/// sampled, i.e. recorded and exported where the target exports spans
/// (the self-hosted target, with `OTEL_EXPORTER_OTLP_ENDPOINT` set).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TracingSpec {
    /// Share of new traces (requests without a valid `traceparent`, or all
    /// requests when `respect_parent_sampled` is false) that are sampled,
    /// from 0.0 to 1.0. Decided from the trace id, as OpenTelemetry's
    /// `TraceIdRatioBased` sampler does. Default 1.0.
    pub sample_ratio: Option<f64>,
    /// Follow the caller's sampled flag when it sends a valid
    /// `traceparent` (parent-based sampling). Default true.
    pub respect_parent_sampled: Option<bool>,
}

/// Validated sampling settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TracingConfig {
    /// Share of new traces sampled.
    pub sample_ratio: f64,
    /// Whether a caller's sampled flag decides.
    pub respect_parent_sampled: bool,
}

/// The default ratio: every trace, as OpenTelemetry's default sampler
/// (`parentbased_always_on`). Spans are recorded only where a target
/// exports them, so this costs nothing until an exporter is configured.
pub const DEFAULT_SAMPLE_RATIO: f64 = 1.0;

impl Default for TracingConfig {
    fn default() -> Self {
        Self {
            sample_ratio: DEFAULT_SAMPLE_RATIO,
            respect_parent_sampled: true,
        }
    }
}

impl TracingConfig {
    /// Whether a trace is sampled: the caller's flag when there is one and
    /// it is respected, otherwise the ratio applied to the trace id.
    pub fn sampled(&self, trace_id: TraceId, parent_sampled: Option<bool>) -> bool {
        match parent_sampled {
            Some(flag) if self.respect_parent_sampled => flag,
            _ => ratio_sampled(self.sample_ratio, trace_id),
        }
    }
}

/// OpenTelemetry's `TraceIdRatioBased`: the low 63 bits of the trace id's
/// last 8 bytes below `ratio * 2^63`. Services using the same rule agree.
fn ratio_sampled(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let bytes = trace_id.to_bytes();
    let mut low = [0u8; 8];
    low.copy_from_slice(&bytes[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

/// Validates `tracing:`; problems name `tracing.sample_ratio`.
pub(crate) fn build(spec: Option<&TracingSpec>, p: &mut Problems) -> TracingConfig {
    let default = TracingConfig::default();
    let Some(spec) = spec else { return default };
    let sample_ratio = match spec.sample_ratio {
        None => default.sample_ratio,
        Some(r) if r.is_finite() && (0.0..=1.0).contains(&r) => r,
        Some(r) => {
            p.push(
                "tracing.sample_ratio",
                format!("must be between 0.0 and 1.0 (a share of traces), got {r}"),
            );
            default.sample_ratio
        }
    };
    TracingConfig {
        sample_ratio,
        respect_parent_sampled: spec
            .respect_parent_sampled
            .unwrap_or(default.respect_parent_sampled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SplitMix;

    fn id(low: u64) -> TraceId {
        let mut b = [0u8; 16];
        b[0] = 1;
        b[8..].copy_from_slice(&low.to_be_bytes());
        TraceId::from_bytes(b).expect("non-zero")
    }

    #[test]
    fn parent_flag_decides_when_respected() {
        let never = TracingConfig {
            sample_ratio: 0.0,
            respect_parent_sampled: true,
        };
        assert!(never.sampled(id(u64::MAX), Some(true)));
        assert!(!never.sampled(id(0), None), "ratio 0 samples no new trace");
        let always = TracingConfig::default();
        assert!(!always.sampled(id(0), Some(false)));
        assert!(always.sampled(id(u64::MAX), None));
        let ignore = TracingConfig {
            sample_ratio: 0.0,
            respect_parent_sampled: false,
        };
        assert!(!ignore.sampled(id(0), Some(true)), "the ratio decides");
    }

    #[test]
    fn ratio_applies_to_the_trace_id() {
        let half = TracingConfig {
            sample_ratio: 0.5,
            respect_parent_sampled: true,
        };
        assert!(half.sampled(id(0), None));
        assert!(half.sampled(id(u64::MAX / 2 - 2), None));
        assert!(!half.sampled(id(u64::MAX / 2 + 2), None));
        assert!(!half.sampled(id(u64::MAX), None));
        // Over random ids, roughly the ratio.
        let rng = SplitMix::seeded(42);
        let tenth = TracingConfig {
            sample_ratio: 0.1,
            respect_parent_sampled: true,
        };
        let n = (0..10_000)
            .filter(|_| tenth.sampled(TraceId::random(&rng), None))
            .count();
        assert!((800..1200).contains(&n), "{n} of 10000 sampled at 0.1");
    }

    #[test]
    fn out_of_range_ratios_are_config_problems() {
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            let mut p = Problems::default();
            let spec = TracingSpec {
                sample_ratio: Some(bad),
                respect_parent_sampled: None,
            };
            build(Some(&spec), &mut p);
            assert_eq!(p.len(), 1, "{bad}");
        }
        let mut p = Problems::default();
        let spec = TracingSpec {
            sample_ratio: Some(0.25),
            respect_parent_sampled: Some(false),
        };
        let c = build(Some(&spec), &mut p);
        assert!(p.is_empty());
        assert_eq!(c.sample_ratio, 0.25);
        assert!(!c.respect_parent_sampled);
        assert_eq!(build(None, &mut p), TracingConfig::default());
    }
}
