//! Web application firewall: built-in rule sets (SQL injection, XSS, path
//! traversal, command injection, Log4Shell, Shellshock, metadata SSRF) run on
//! decoded request parts, with anomaly scoring, paranoia levels and per-route
//! exclusions. The `waf` policy ([`crate::policy::WafSpec`]) drives it.
//!
//! No libinjection port for Rust is both maintained and pure Rust, so the
//! engine is regex sets (compiled once per paranoia level) plus small decoding
//! and tokenising steps; see `docs/waf.md` for the measured rates.

mod decode;
mod engine;
mod inspect;
mod rules;

pub use rules::{Category, RULES, Rule};

use http::HeaderName;

use engine::{RuleSet, Scan};

/// Where in the request a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// The (decoded) path.
    Path,
    /// A query parameter name or value.
    Query,
    /// An inspected header (cookies are split into their values).
    Header,
    /// A JSON body key or string value.
    Json,
    /// A form body field name or value.
    Form,
    /// A body inspected as plain text (unparsable or cut at the inspection cap).
    Body,
}

impl Location {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Json => "json",
            Location::Form => "form",
            Location::Body => "body",
        }
    }
}

/// One matched rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The rule id.
    pub rule: u32,
    /// The rule's category.
    pub category: Category,
    /// Where it matched first.
    pub location: Location,
}

/// Block the request or only report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Refuse requests at or above the threshold (403).
    #[default]
    Block,
    /// Forward everything; report what would have been blocked.
    Detect,
}

/// What to do with a body larger than the inspection cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Oversize {
    /// Inspect the first `body_limit` bytes only.
    #[default]
    InspectPrefix,
    /// Refuse the request (413).
    Refuse,
}

/// Which parts of a request are inspected.
#[derive(Debug, Clone)]
pub struct InspectConfig {
    /// The decoded path.
    pub path: bool,
    /// Query parameter names and values.
    pub query: bool,
    /// These headers (`Cookie` is split into values).
    pub headers: Vec<HeaderName>,
    /// JSON and form bodies (the route then buffers request bodies).
    pub body: bool,
    /// Bytes of body inspected at most.
    pub body_limit: usize,
    /// What happens to a larger body.
    pub oversize: Oversize,
}

impl Default for InspectConfig {
    fn default() -> Self {
        Self {
            path: true,
            query: true,
            headers: vec![
                http::header::USER_AGENT,
                http::header::REFERER,
                http::header::COOKIE,
            ],
            body: true,
            body_limit: 64 * 1024,
            oversize: Oversize::InspectPrefix,
        }
    }
}

/// A validated WAF configuration for one route.
#[derive(Debug, Clone)]
pub struct WafConfig {
    /// Block or detect only.
    pub mode: Mode,
    /// Paranoia level, 1 (fewest false positives) to 4.
    pub paranoia: u8,
    /// Anomaly score at which a request is blocked.
    pub threshold: u32,
    /// Rule ids switched off for this route.
    pub exclude: Vec<u32>,
    /// What is inspected.
    pub inspect: InspectConfig,
}

impl Default for WafConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Block,
            paranoia: 1,
            threshold: 5,
            exclude: Vec::new(),
            inspect: InspectConfig::default(),
        }
    }
}

/// The outcome of inspecting one request. The `waf` policy puts it in the
/// response extensions (blocked or not, whenever a rule matched) so the
/// adapter's access log can record the rule ids; it is never sent to clients.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WafReport {
    /// Sum of the scores of the matched rules.
    pub score: u32,
    /// Matched rules, in the order found.
    pub hits: Vec<Hit>,
    /// Whether the score reached the threshold.
    pub over_threshold: bool,
    /// Whether the body was larger than the inspection cap (only its prefix was read).
    pub body_truncated: bool,
}

impl WafReport {
    /// The matched rule ids, comma-separated, for a log line.
    pub fn rule_ids(&self) -> String {
        self.hits
            .iter()
            .map(|h| h.rule.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A compiled WAF for one route.
#[derive(Debug)]
pub struct Waf {
    config: WafConfig,
    rules: &'static RuleSet,
}

impl Waf {
    /// Builds the WAF; rule sets are compiled once per process and shared.
    pub fn new(config: WafConfig) -> Self {
        let rules = RuleSet::for_level(config.paranoia);
        Self { config, rules }
    }

    /// The configuration.
    pub fn config(&self) -> &WafConfig {
        &self.config
    }

    /// Whether `id` names a built-in rule.
    pub fn rule_exists(id: u32) -> bool {
        RULES.iter().any(|r| r.id == id)
    }

    /// Inspects a request head and, if given, its buffered body.
    pub fn inspect(
        &self,
        uri: &http::Uri,
        headers: &http::HeaderMap,
        body: Option<&[u8]>,
    ) -> WafReport {
        let mut scan = Scan::new(self.rules, &self.config.exclude);
        let truncated = inspect::request(&mut scan, &self.config.inspect, uri, headers, body);
        WafReport {
            score: scan.score,
            over_threshold: scan.score >= self.config.threshold,
            hits: scan.hits,
            body_truncated: truncated,
        }
    }
}
