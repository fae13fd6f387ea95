//! The WAF corpus: every attack and benign case in `tests/data/waf` through
//! the engine at paranoia 1 and 2. Prints detection and false-positive rates
//! per category and fails below the recorded floors.
//!
//! `cargo test -p gateway-core --test waf_corpus -- --nocapture`

#![allow(missing_docs)]

use std::collections::BTreeMap;

use gateway_core::waf::{Waf, WafConfig};
use http::{HeaderMap, HeaderName, HeaderValue, Uri, header};
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters a client must escape in a URI; the attacker's own escapes stay.
const URI_UNSAFE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b'#');
const PATH_UNSAFE: &AsciiSet = &URI_UNSAFE.add(b'?');
const QUERY_VALUE: &AsciiSet = &URI_UNSAFE.add(b'&');
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

struct Case {
    label: String,
    place: String,
    payload: String,
    line: usize,
}

fn load(name: &str) -> Vec<Case> {
    let path = format!("{}/tests/data/waf/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("corpus file");
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|(i, l)| {
            let mut parts = l.splitn(3, '\t');
            let (Some(label), Some(place), Some(payload)) =
                (parts.next(), parts.next(), parts.next())
            else {
                panic!("{name}:{}: want <label> TAB <where> TAB <payload>", i + 1);
            };
            Case {
                label: label.to_owned(),
                place: place.to_owned(),
                payload: payload.to_owned(),
                line: i + 1,
            }
        })
        .collect()
}

/// The request parts a case becomes.
fn request(case: &Case) -> (Uri, HeaderMap, Option<Vec<u8>>) {
    let mut headers = HeaderMap::new();
    let mut uri = "/p".to_owned();
    let mut body = None;
    let p = case.payload.as_str();
    match case.place.as_str() {
        "query" => uri = format!("/p?q={}", utf8_percent_encode(p, QUERY_VALUE)),
        "path" => uri = format!("/p/{}", utf8_percent_encode(p, PATH_UNSAFE)),
        "json" => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            let doc = if p.starts_with('{') || p.starts_with('[') {
                p.to_owned()
            } else {
                serde_json::json!({ "q": p }).to_string()
            };
            body = Some(doc.into_bytes());
        }
        "form" => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            let value = utf8_percent_encode(p, FORM).to_string().replace("%20", "+");
            body = Some(format!("name=test&comment={value}").into_bytes());
        }
        other => {
            let name = other
                .strip_prefix("header:")
                .unwrap_or_else(|| panic!("line {}: unknown place `{other}`", case.line));
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(p).expect("header value"),
            );
        }
    }
    (uri.parse().expect("uri"), headers, body)
}

fn blocked(waf: &Waf, case: &Case) -> (bool, Vec<u32>) {
    let (uri, headers, body) = request(case);
    let r = waf.inspect(&uri, &headers, body.as_deref());
    (r.over_threshold, r.hits.iter().map(|h| h.rule).collect())
}

/// Per label: (flagged, total).
type Rates = BTreeMap<String, (usize, usize)>;

/// Rates per paranoia level.
type ByLevel = Vec<(u8, Rates)>;

fn run(cases: &[Case], paranoia: u8, want_blocked: bool) -> (Rates, Vec<String>) {
    let waf = Waf::new(WafConfig {
        paranoia,
        ..WafConfig::default()
    });
    let mut rates = Rates::new();
    let mut odd = Vec::new();
    for case in cases {
        let (hit, rules) = blocked(&waf, case);
        let e = rates.entry(case.label.clone()).or_default();
        e.1 += 1;
        if hit {
            e.0 += 1;
        }
        if hit != want_blocked {
            odd.push(format!(
                "line {} [{} {}] rules {:?}: {}",
                case.line, case.label, case.place, rules, case.payload
            ));
        }
    }
    (rates, odd)
}

fn total(r: &Rates) -> (usize, usize) {
    r.values().fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
}

fn pct((n, d): (usize, usize)) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

fn table(title: &str, by_level: &[(u8, Rates)]) {
    println!("\n| {title} | cases | PL1 | PL2 |");
    println!("| --- | ---: | ---: | ---: |");
    let labels: Vec<&String> = by_level[0].1.keys().collect();
    for label in labels {
        let n = by_level[0].1[label].1;
        let cells: Vec<String> = by_level
            .iter()
            .map(|(_, r)| format!("{:.1} %", pct(r[label])))
            .collect();
        println!("| {label} | {n} | {} |", cells.join(" | "));
    }
    let n = total(&by_level[0].1).1;
    let cells: Vec<String> = by_level
        .iter()
        .map(|(_, r)| format!("**{:.1} %**", pct(total(r))))
        .collect();
    println!("| **all** | {n} | {} |", cells.join(" | "));
}

/// Runs attacks and benign cases at PL1 and PL2, prints misses and tables.
fn report(attacks: &[Case], benign: &[Case]) -> (ByLevel, ByLevel) {
    let mut detection = Vec::new();
    let mut false_pos = Vec::new();
    for pl in [1u8, 2] {
        let (d, missed) = run(attacks, pl, true);
        let (f, flagged) = run(benign, pl, false);
        println!(
            "\nparanoia {pl}: {} missed, {} false positives",
            missed.len(),
            flagged.len()
        );
        for m in &missed {
            println!("  missed   {m}");
        }
        for m in &flagged {
            println!("  false +  {m}");
        }
        detection.push((pl, d));
        false_pos.push((pl, f));
    }
    table("detection (attacks blocked)", &detection);
    table("false positives (benign blocked)", &false_pos);
    (detection, false_pos)
}

#[test]
fn corpus_rates() {
    let attacks = load("attacks.txt");
    let benign = load("benign.txt");
    assert!(attacks.len() >= 150 && benign.len() >= 150);
    let (detection, false_pos) = report(&attacks, &benign);

    let pl1_detect = pct(total(&detection[0].1));
    let pl2_detect = pct(total(&detection[1].1));
    let pl1_fp = total(&false_pos[0].1).0;
    // Floors: the rates this corpus reaches today; raise them, never lower them quietly.
    // The rules were tuned on this corpus, so these are not an unbiased estimate:
    // see `holdout_rates`.
    assert!(pl1_detect >= 99.0, "PL1 detection {pl1_detect:.1} %");
    assert!(
        pl2_detect >= pl1_detect,
        "PL2 detects at least what PL1 does"
    );
    assert_eq!(pl1_fp, 0, "no false positives at PL1");
    for (label, r) in &detection[0].1 {
        assert!(
            pct(*r) >= 95.0,
            "PL1 detection for {label}: {:.1} %",
            pct(*r)
        );
    }
}

/// Cases written after tuning and never tuned against: an honest estimate.
#[test]
fn holdout_rates() {
    let attacks = load("attacks_holdout.txt");
    let benign = load("benign_holdout.txt");
    let (detection, false_pos) = report(&attacks, &benign);
    let pl1_detect = pct(total(&detection[0].1));
    let pl1_fp = pct(total(&false_pos[0].1));
    println!("\nholdout PL1: detection {pl1_detect:.1} %, false positives {pl1_fp:.1} %");
    // Regression guards at the first measured values (see docs/waf.md).
    assert!(
        pl1_detect >= HOLDOUT_PL1_DETECTION_FLOOR,
        "holdout PL1 detection {pl1_detect:.1} %"
    );
    assert!(
        pl1_fp <= HOLDOUT_PL1_FP_CEILING,
        "holdout PL1 false positives {pl1_fp:.1} %"
    );
}

const HOLDOUT_PL1_DETECTION_FLOOR: f64 = 93.0;
const HOLDOUT_PL1_FP_CEILING: f64 = 0.0;
