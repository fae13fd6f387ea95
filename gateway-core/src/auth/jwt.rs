//! JWT verification: issuers with pinned algorithms, keys bound to an
//! algorithm family, and claim checks against the gateway's clock.
//!
//! `none` cannot be expressed (it is not an [`Algorithm`]), and a key is only
//! ever tried for the family it belongs to, so an HMAC token is never
//! checked against an RSA or EC public key.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::Jwk};
use schemars::JsonSchema;
use serde::Deserialize;

use super::jwks::{Jwks, JwksSpec, KeysUnavailable};
use crate::config::{ConfigProblem, DurationSpec};
use crate::env::Env;

/// Longest token accepted, in bytes.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Default clock-skew allowance, seconds.
const DEFAULT_LEEWAY_S: u64 = 60;
/// Shortest HMAC secret accepted, bytes.
const MIN_SECRET_BYTES: usize = 32;

/// A secret from config; its `Debug` is redacted.
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// A signing algorithm an issuer may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[allow(missing_docs, clippy::upper_case_acronyms)]
pub enum AlgorithmSpec {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl AlgorithmSpec {
    fn algorithm(self) -> Algorithm {
        match self {
            Self::HS256 => Algorithm::HS256,
            Self::HS384 => Algorithm::HS384,
            Self::HS512 => Algorithm::HS512,
            Self::RS256 => Algorithm::RS256,
            Self::RS384 => Algorithm::RS384,
            Self::RS512 => Algorithm::RS512,
            Self::PS256 => Algorithm::PS256,
            Self::PS384 => Algorithm::PS384,
            Self::PS512 => Algorithm::PS512,
            Self::ES256 => Algorithm::ES256,
            Self::ES384 => Algorithm::ES384,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

/// One string or a list of strings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

/// A JWT issuer (top-level `jwt_issuers:` map, keyed by name).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerSpec {
    /// Required `iss` claim. Unset: `iss` is not checked.
    pub issuer: Option<String>,
    /// Accepted audiences: the token's `aud` (string or array) must contain one.
    /// Unset: `aud` is not checked.
    pub audience: Option<OneOrMany>,
    /// The algorithms accepted from this issuer (pinned; `none` does not exist).
    pub algorithms: Vec<AlgorithmSpec>,
    /// Static keys.
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    /// A JWKS endpoint to fetch public keys from.
    pub jwks: Option<JwksSpec>,
    /// Clock-skew allowance for `exp`, `nbf` and `iat`. Default 60s.
    pub leeway: Option<DurationSpec>,
    /// Refuse tokens without `exp`. Default true.
    pub require_exp: Option<bool>,
    /// Claims that must be present.
    #[serde(default)]
    pub required_claims: Vec<String>,
    /// Claim naming the consumer. Default `sub`.
    pub consumer_claim: Option<String>,
    /// Claim with the caller's groups (array, or space-separated string).
    pub groups_claim: Option<String>,
}

/// A static verification key: exactly one of `secret`, `pem`, `jwk`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Key id; when set, only tokens with this `kid` (or none) use the key.
    pub kid: Option<String>,
    /// HMAC secret (UTF-8, at least 32 bytes) for HS256/384/512.
    pub secret: Option<Secret>,
    /// A public key in PEM (`BEGIN PUBLIC KEY`, RSA, EC or Ed25519), for RS*/PS*, ES*, EdDSA.
    pub pem: Option<String>,
    /// A public JWK (RSA, EC or OKP).
    pub jwk: Option<serde_json::Value>,
}

/// A verification key bound to its algorithm family.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    /// From a JWK's `alg`: the only algorithm this key may verify.
    pub(crate) alg: Option<Algorithm>,
    pub(crate) key: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("family", &self.key.family())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key from a public JWK; `None` for private, symmetric or unusable keys.
    pub(crate) fn from_jwk(value: &serde_json::Value) -> Option<Self> {
        // Never take a symmetric key from a document, nor a private one.
        if value.get("kty").and_then(|v| v.as_str()) == Some("oct") || value.get("d").is_some() {
            return None;
        }
        if let Some(u) = value.get("use").and_then(|v| v.as_str())
            && u != "sig"
        {
            return None;
        }
        let jwk: Jwk = serde_json::from_value(value.clone()).ok()?;
        let key = DecodingKey::from_jwk(&jwk).ok()?;
        let alg = match value.get("alg").and_then(|v| v.as_str()) {
            Some(a) => Some(a.parse::<Algorithm>().ok()?),
            None => None,
        };
        Some(Self {
            kid: jwk.common.key_id,
            alg,
            key,
        })
    }

    /// Whether this key may verify a token with `alg` and `kid`.
    pub(crate) fn fits(&self, alg: Algorithm, kid: Option<&str>) -> bool {
        self.key.family() == alg.family()
            && self.alg.is_none_or(|a| a == alg)
            && match (kid, &self.kid) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            }
    }
}

fn static_key(spec: &KeySpec, at: &str, problems: &mut Vec<ConfigProblem>) -> Option<Key> {
    let given = [
        spec.secret.is_some(),
        spec.pem.is_some(),
        spec.jwk.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        problems.push(ConfigProblem::new(
            at,
            "give exactly one of `secret`, `pem`, `jwk`",
        ));
        return None;
    }
    let key = if let Some(s) = &spec.secret {
        if s.0.len() < MIN_SECRET_BYTES {
            problems.push(ConfigProblem::new(
                format!("{at}.secret"),
                format!("an HMAC secret must be at least {MIN_SECRET_BYTES} bytes"),
            ));
            return None;
        }
        DecodingKey::from_secret(s.0.as_bytes())
    } else if let Some(pem) = &spec.pem {
        if pem.contains("PRIVATE KEY") {
            problems.push(ConfigProblem::new(
                format!("{at}.pem"),
                "this is a private key; give the public key",
            ));
            return None;
        }
        let b = pem.as_bytes();
        match DecodingKey::from_rsa_pem(b)
            .or_else(|_| DecodingKey::from_ec_pem(b))
            .or_else(|_| DecodingKey::from_ed_pem(b))
        {
            Ok(k) => k,
            Err(_) => {
                problems.push(ConfigProblem::new(
                    format!("{at}.pem"),
                    "not an RSA, EC or Ed25519 public key in PEM",
                ));
                return None;
            }
        }
    } else {
        let value = spec.jwk.as_ref()?;
        match Key::from_jwk(value) {
            Some(k) => {
                return Some(Key {
                    kid: spec.kid.clone().or(k.kid),
                    ..k
                });
            }
            None => {
                problems.push(ConfigProblem::new(
                    format!("{at}.jwk"),
                    "not a usable public JWK (RSA, EC or OKP, no private part, `use: sig`)",
                ));
                return None;
            }
        }
    };
    Some(Key {
        kid: spec.kid.clone(),
        alg: None,
        key,
    })
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwtError {
    /// The token is malformed, badly signed, or its claims do not hold.
    /// The text is fixed, written by the gateway.
    Invalid(&'static str),
    /// No key for the token can be had right now (JWKS endpoint down).
    KeyUnavailable,
}

/// A validated issuer.
#[derive(Debug)]
pub(crate) struct Issuer {
    name: String,
    issuer: Option<String>,
    audience: Vec<String>,
    algorithms: Vec<Algorithm>,
    keys: Vec<Key>,
    pub(crate) jwks: Option<Arc<Jwks>>,
    leeway_s: u64,
    require_exp: bool,
    required_claims: Vec<String>,
    pub(crate) consumer_claim: String,
    pub(crate) groups_claim: Option<String>,
}

/// The verified claims of a token.
pub(crate) type Claims = serde_json::Map<String, serde_json::Value>;

impl Issuer {
    /// Validates one entry of `jwt_issuers:`.
    pub(crate) fn build(
        name: &str,
        spec: &IssuerSpec,
        problems: &mut Vec<ConfigProblem>,
    ) -> Option<Self> {
        let at = format!("jwt_issuers.{name}");
        let before = problems.len();
        if spec.algorithms.is_empty() {
            problems.push(ConfigProblem::new(
                format!("{at}.algorithms"),
                "list the accepted algorithms",
            ));
        }
        let mut algorithms: Vec<Algorithm> = Vec::new();
        for a in &spec.algorithms {
            if !algorithms.contains(&a.algorithm()) {
                algorithms.push(a.algorithm());
            }
        }
        let keys: Vec<Key> = spec
            .keys
            .iter()
            .enumerate()
            .filter_map(|(i, k)| static_key(k, &format!("{at}.keys[{i}]"), problems))
            .collect();
        for (i, k) in keys.iter().enumerate() {
            if !algorithms.iter().any(|a| a.family() == k.key.family()) {
                problems.push(ConfigProblem::new(
                    format!("{at}.keys[{i}]"),
                    "no listed algorithm uses this kind of key",
                ));
            }
        }
        let jwks = spec
            .jwks
            .as_ref()
            .and_then(|j| Jwks::build(name, j, &format!("{at}.jwks"), problems))
            .map(Arc::new);
        for a in &algorithms {
            let has_key = keys.iter().any(|k| k.key.family() == a.family());
            let hmac = a.family() == jsonwebtoken::AlgorithmFamily::Hmac;
            if !has_key && (hmac || jwks.is_none()) {
                problems.push(ConfigProblem::new(
                    format!("{at}.algorithms"),
                    format!(
                        "no key can verify {a:?}: add a matching key{}",
                        if hmac { "" } else { " or `jwks`" }
                    ),
                ));
            }
        }
        if problems.len() != before {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            issuer: spec.issuer.clone(),
            audience: spec
                .audience
                .clone()
                .map(OneOrMany::into_vec)
                .unwrap_or_default(),
            algorithms,
            keys,
            jwks,
            leeway_s: spec.leeway.map_or(DEFAULT_LEEWAY_S, |d| d.0.as_secs()),
            require_exp: spec.require_exp.unwrap_or(true),
            required_claims: spec.required_claims.clone(),
            consumer_claim: spec.consumer_claim.clone().unwrap_or_else(|| "sub".into()),
            groups_claim: spec.groups_claim.clone(),
        })
    }

    /// The issuer's name in config.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Checks the signature and claims of `token`.
    pub(crate) async fn verify(&self, token: &str, env: &Env) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_BYTES || token.split('.').count() != 3 {
            return Err(JwtError::Invalid("malformed token"));
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid("malformed token"))?;
        if header.crit.is_some() {
            return Err(JwtError::Invalid("unsupported critical header"));
        }
        let alg = header.alg;
        if !self.algorithms.contains(&alg) {
            return Err(JwtError::Invalid("algorithm not accepted"));
        }
        let kid = header.kid.as_deref();
        // Static keys first, then the JWKS document (refetched once when
        // the `kid` is unknown, at most once per interval).
        let statics: Vec<&Key> = self.keys.iter().filter(|k| k.fits(alg, kid)).collect();
        let from_static = if statics.is_empty() {
            None
        } else {
            Some(try_keys(token, alg, statics.into_iter()))
        };
        let claims = match (from_static, &self.jwks) {
            (Some(Ok(c)), _) => c,
            (Some(Err(e)), None) => return Err(e),
            (None, None) => return Err(JwtError::Invalid("no key matches the token")),
            (_, Some(jwks)) => verify_with_jwks(token, alg, kid, jwks, env).await?,
        };
        self.check_claims(&claims, env.clock.now_ms() / 1000)?;
        Ok(claims)
    }

    fn check_claims(&self, c: &Claims, now: u64) -> Result<(), JwtError> {
        let num = |name: &str| -> Result<Option<f64>, JwtError> {
            match c.get(name) {
                None => Ok(None),
                Some(v) => v
                    .as_f64()
                    .map(Some)
                    .ok_or(JwtError::Invalid("malformed time claim")),
            }
        };
        let now = now as f64;
        let leeway = self.leeway_s as f64;
        match num("exp")? {
            Some(exp) if exp + leeway <= now => return Err(JwtError::Invalid("token expired")),
            None if self.require_exp => return Err(JwtError::Invalid("token has no expiry")),
            _ => {}
        }
        if let Some(nbf) = num("nbf")?
            && nbf - leeway > now
        {
            return Err(JwtError::Invalid("token not yet valid"));
        }
        if let Some(iat) = num("iat")?
            && iat - leeway > now
        {
            return Err(JwtError::Invalid("token issued in the future"));
        }
        if let Some(want) = &self.issuer
            && c.get("iss").and_then(|v| v.as_str()) != Some(want.as_str())
        {
            return Err(JwtError::Invalid("wrong issuer"));
        }
        if !self.audience.is_empty() {
            let ok = match c.get("aud") {
                Some(serde_json::Value::String(a)) => self.audience.contains(a),
                Some(serde_json::Value::Array(list)) => list
                    .iter()
                    .filter_map(|v| v.as_str())
                    .any(|a| self.audience.iter().any(|w| w == a)),
                _ => false,
            };
            if !ok {
                return Err(JwtError::Invalid("wrong audience"));
            }
        }
        if self.required_claims.iter().any(|r| !c.contains_key(r)) {
            return Err(JwtError::Invalid("a required claim is missing"));
        }
        Ok(())
    }
}

async fn verify_with_jwks(
    token: &str,
    alg: Algorithm,
    kid: Option<&str>,
    jwks: &Arc<Jwks>,
    env: &Env,
) -> Result<Claims, JwtError> {
    let fitting =
        |keys: &[Key]| -> Vec<Key> { keys.iter().filter(|k| k.fits(alg, kid)).cloned().collect() };
    let doc = jwks.keys(env).await;
    let found = doc
        .as_ref()
        .ok()
        .map(|d| fitting(&d.keys))
        .unwrap_or_default();
    let keys = if found.is_empty() {
        match jwks.refetch(env).await {
            Ok(Some(d)) => fitting(&d.keys),
            // Refetched recently and the key was not there.
            Ok(None) if doc.is_ok() => Vec::new(),
            Ok(None) | Err(KeysUnavailable) => return Err(JwtError::KeyUnavailable),
        }
    } else {
        found
    };
    if keys.is_empty() {
        return Err(JwtError::Invalid("no key matches the token"));
    }
    try_keys(token, alg, keys.iter())
}

fn try_keys<'k>(
    token: &str,
    alg: Algorithm,
    keys: impl Iterator<Item = &'k Key>,
) -> Result<Claims, JwtError> {
    let mut v = Validation::new(alg);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    for k in keys {
        if let Ok(data) = jsonwebtoken::decode::<Claims>(token, &k.key, &v) {
            return Ok(data.claims);
        }
    }
    Err(JwtError::Invalid("invalid signature"))
}

/// Scopes granted by a token: `scope` (space-separated) and `scp` (array or string).
pub(crate) fn scopes(c: &Claims) -> Vec<String> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        out.extend(string_list(c.get(name)));
    }
    out
}

/// A claim as a list: an array of strings or a space-separated string.
pub(crate) fn string_list(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}
