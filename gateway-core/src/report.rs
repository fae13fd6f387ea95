//! What policies found while handling a request, as log lines for the
//! adapters: WAF rule matches and upstream responses that broke their
//! contract. The findings travel in the response extensions (never sent to
//! clients); each target writes these lines to its platform's log.

use crate::ratelimit::RateLimitReport;
use crate::validate::ResponseValidationReport;
use crate::waf::WafReport;

/// The log lines for `resp`: one per finding, empty when there is none.
/// They name rule ids, scores and JSON pointers, never request or response
/// content.
pub fn log_lines<B>(resp: &http::Response<B>) -> Vec<String> {
    let status = resp.status().as_u16();
    let mut lines = Vec::new();
    if let Some(w) = resp.extensions().get::<WafReport>() {
        lines.push(format!(
            "waf rules matched: status={status} rules={} score={}",
            w.rule_ids(),
            w.score
        ));
    }
    if let Some(v) = resp.extensions().get::<ResponseValidationReport>() {
        let mode = if v.enforced { "enforce" } else { "report" };
        lines.push(format!(
            "upstream response failed validation: status={status} mode={mode} pointers={}",
            v.pointers()
        ));
    }
    if let Some(r) = resp.extensions().get::<RateLimitReport>() {
        let mode = if r.fail_closed { "deny" } else { "allow" };
        lines.push(format!(
            "rate limit store unavailable: status={status} on_store_error={mode} limits={}",
            r.store_errors.join(",")
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::FieldError;

    #[test]
    fn one_line_per_finding_and_none_without() {
        let mut resp = http::Response::new(());
        assert!(log_lines(&resp).is_empty());
        resp.extensions_mut().insert(WafReport {
            score: 5,
            ..WafReport::default()
        });
        resp.extensions_mut().insert(ResponseValidationReport {
            errors: vec![FieldError {
                pointer: "/body/id".into(),
                message: "\"secret-ish\" is not of type integer".into(),
            }],
            enforced: false,
        });
        let lines = log_lines(&resp);
        assert_eq!(
            lines,
            [
                "waf rules matched: status=200 rules= score=5",
                "upstream response failed validation: status=200 mode=report pointers=/body/id",
            ]
        );
    }
}
