//! The scenario file format and merging fragments into one config.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde::Deserialize;
use serde_json::Value;

/// One scenario file: a config fragment and its cases.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Capabilities every case needs (names of `Capabilities` fields).
    #[serde(default)]
    pub requires: Vec<String>,
    /// `upstreams`, `routes`, `consumers`, `jwt_issuers`, `registry` and `cache` to
    /// merge into the suite's config.
    pub config: Value,
    /// The requests and what must come back.
    pub cases: Vec<Case>,
    /// The file stem; set after loading.
    #[serde(skip)]
    pub name: String,
}

/// One request and its expected answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// What the case shows.
    pub name: String,
    /// Capabilities this case needs beyond the scenario's.
    #[serde(default)]
    pub requires: Vec<String>,
    /// The request.
    pub request: RequestSpec,
    /// The expected response.
    pub expect: Expect,
}

/// A request; the path is sent exactly as written (after the prefix).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Method, default GET.
    #[serde(default = "get")]
    pub method: String,
    /// Path and query below the scenario prefix.
    pub path: String,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    pub body: Option<String>,
    /// A body of this many `x` bytes, when `body` is not given.
    pub body_size: Option<usize>,
}

fn get() -> String {
    "GET".to_owned()
}

/// The expected response.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Status code.
    pub status: u16,
    /// Header values; `"*"` present, `null` absent.
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    /// Fields the JSON body must contain.
    pub json: Option<Value>,
    /// The exact body text.
    pub body: Option<String>,
    /// The problem kind of a problem+json answer.
    pub problem: Option<String>,
}

/// Loads every `*.yaml` under `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let name = f
            .file_stem()
            .and_then(|s| s.to_str())
            .context("scenario file name")?
            .to_owned();
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            bail!(
                "{}: scenario names are lower-case words with dashes",
                f.display()
            );
        }
        let text = std::fs::read_to_string(&f)?.replace("$PREFIX", &format!("/{name}"));
        let mut s: Scenario =
            serde_saphyr::from_str(&text).with_context(|| format!("parsing {}", f.display()))?;
        s.name = name;
        out.push(s);
    }
    Ok(out)
}

fn prefix_upstream(v: &mut Value, name: &str) {
    if let Value::String(u) = v {
        *u = format!("{name}-{u}");
    }
}

/// Merges the fragments into `base`: upstreams become `NAME-upstream`
/// (where routes, versions and aggregate backends name them), route paths
/// and names get `/NAME` and `NAME:`.
pub fn merge(base: &str, scenarios: &[Scenario]) -> Result<Value> {
    let mut root: Value = serde_saphyr::from_str(base).context("parsing base.yaml")?;
    let mut upstreams = serde_json::Map::new();
    let mut routes = Vec::new();
    // Consumers and JWT issuers are shared by name across scenarios.
    let mut shared: BTreeMap<&str, serde_json::Map<String, Value>> = BTreeMap::new();
    // The registry API and the cache settings are sections of their own:
    // one scenario may set each.
    let mut single: BTreeMap<&str, (&str, Value)> = BTreeMap::new();
    for s in scenarios {
        let n = &s.name;
        for key in ["registry", "cache"] {
            if let Some(r) = s.config.get(key) {
                if let Some((other, _)) = single.get(key) {
                    bail!("{n}: `{key}` is also defined by scenario {other}");
                }
                single.insert(key, (n, r.clone()));
            }
        }
        for key in ["consumers", "jwt_issuers"] {
            for (k, v) in s
                .config
                .get(key)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if shared
                    .entry(key)
                    .or_default()
                    .insert(k.clone(), v.clone())
                    .is_some()
                {
                    bail!("{n}: `{key}.{k}` is also defined by another scenario");
                }
            }
        }
        if let Some(ups) = s.config.get("upstreams").and_then(Value::as_object) {
            for (k, v) in ups {
                upstreams.insert(format!("{n}-{k}"), v.clone());
            }
        }
        for r in s
            .config
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let mut r = r.clone();
            let obj = r.as_object_mut().context("a route is a mapping")?;
            if let Some(Value::String(p)) = obj.get_mut("path") {
                *p = format!("/{n}{p}");
            }
            if let Some(Value::String(name)) = obj.get_mut("name") {
                *name = format!("{n}:{name}");
            }
            if let Some(u) = obj.get_mut("upstream") {
                prefix_upstream(u, n);
            }
            for b in obj
                .get_mut("aggregate")
                .and_then(|a| a.get_mut("backends"))
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                if let Some(u) = b.get_mut("upstream") {
                    prefix_upstream(u, n);
                }
            }
            if let Some(vs) = obj
                .get_mut("versioning")
                .and_then(|v| v.get_mut("versions"))
                .and_then(Value::as_object_mut)
            {
                for v in vs.values_mut() {
                    if let Some(u) = v.get_mut("upstream") {
                        prefix_upstream(u, n);
                    }
                }
            }
            routes.push(r);
        }
    }
    let obj = root.as_object_mut().context("base.yaml is a mapping")?;
    obj.insert("upstreams".into(), Value::Object(upstreams));
    obj.insert("routes".into(), Value::Array(routes));
    for (key, map) in shared {
        obj.insert(key.into(), Value::Object(map));
    }
    for (key, (_, r)) in single {
        obj.insert(key.into(), r);
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumers_and_issuers_are_shared_and_must_not_collide() {
        let load = |name: &str, text: &str| {
            let mut s: Scenario = serde_saphyr::from_str(text).expect("scenario");
            s.name = name.to_owned();
            s
        };
        let a = load(
            "a",
            "config:\n  consumers: { ada: { groups: [x] } }\n  jwt_issuers: { i: { algorithms: [HS256] } }\ncases: []\n",
        );
        let b = load("b", "config:\n  consumers: { bob: {} }\ncases: []\n");
        let merged = merge("version: 1\n", &[a, b]).expect("merged");
        assert!(merged["consumers"]["ada"].is_object());
        assert!(merged["consumers"]["bob"].is_object());
        assert!(merged["jwt_issuers"]["i"].is_object());
        let c = load("c", "config:\n  consumers: { ada: {} }\ncases: []\n");
        let a = load("a", "config:\n  consumers: { ada: {} }\ncases: []\n");
        assert!(merge("version: 1\n", &[a, c]).is_err());
    }

    #[test]
    fn one_scenario_may_set_the_registry() {
        let load = |name: &str, text: &str| {
            let mut s: Scenario = serde_saphyr::from_str(text).expect("scenario");
            s.name = name.to_owned();
            s
        };
        let text = "config:\n  registry: { prefix: /a, token_sha256: x }\ncases: []\n";
        let merged = merge("version: 1\n", &[load("a", text)]).expect("merged");
        assert_eq!(merged["registry"]["prefix"], "/a");
        let err = merge("version: 1\n", &[load("a", text), load("b", text)]).expect_err("twice");
        assert!(
            err.to_string().contains("`registry` is also defined"),
            "{err}"
        );
    }

    #[test]
    fn merge_namespaces_paths_names_and_upstreams() {
        let s: Scenario = serde_saphyr::from_str(
            "config:\n  upstreams: { a: { mock: { body: x } } }\n  routes:\n    - { name: r, path: /p, upstream: a, versioning: { from: header, versions: { v1: { upstream: a } } } }\n    - { path: /q, aggregate: { backends: [{ name: b, upstream: a, path: /b }] } }\ncases: []\n",
        )
        .expect("scenario");
        let s = Scenario {
            name: "demo".into(),
            ..s
        };
        let merged = merge("version: 1\n", &[s]).expect("merge");
        assert!(merged["upstreams"]["demo-a"].is_object());
        let r = &merged["routes"][0];
        assert_eq!(r["path"], "/demo/p");
        assert_eq!(r["name"], "demo:r");
        assert_eq!(r["upstream"], "demo-a");
        assert_eq!(r["versioning"]["versions"]["v1"]["upstream"], "demo-a");
        assert_eq!(
            merged["routes"][1]["aggregate"]["backends"][0]["upstream"],
            "demo-a"
        );
    }

    #[test]
    fn the_corpus_loads_and_merges_into_a_valid_config() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let corpus = load_dir(&dir.join("scenarios")).expect("corpus");
        assert!(corpus.len() >= 5);
        let base = std::fs::read_to_string(dir.join("base.yaml")).expect("base");
        let merged = merge(&base, &corpus).expect("merge");
        let text = serde_json::to_string(&merged).expect("json");
        gateway_core::config::load_file_text(
            "merged.json",
            &text,
            &gateway_core::PolicyRegistry::builtin(),
        )
        .expect("merged config is valid");
    }
}
