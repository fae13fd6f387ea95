//! The `auth` policy: authenticates a request with the mechanisms a route
//! allows, checks the route's group and scope requirements, and forwards the
//! identity upstream in headers (client-sent copies are always removed).

use std::sync::Arc;

use http::header::{AUTHORIZATION, COOKIE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use percent_encoding::percent_decode_str;

use super::basic::parse_basic;
use super::claim_text;
use super::config::AuthSpec;
use super::jwt::{Claims, Issuer, JwtError, scopes, string_list};
use super::{AuthConfig, Identity};
use crate::body::Body;
use crate::config::ConfigProblem;
use crate::error::{GatewayError, Rejection};
use crate::policy::{BuildCx, Cx, Flow, Policy, PolicyFactory};

#[derive(Debug, Default)]
struct Requirement {
    groups: Vec<String>,
    scopes: Vec<String>,
}

impl Requirement {
    fn allows(&self, id: &Identity) -> bool {
        (self.groups.is_empty() || self.groups.iter().any(|g| id.groups.contains(g)))
            && self.scopes.iter().all(|s| id.scopes.contains(s))
    }
}

#[derive(Debug)]
struct JwtRoute {
    issuers: Vec<Arc<Issuer>>,
    cookie: Option<String>,
    query: Option<String>,
    unavailable_status: StatusCode,
    strip_token: bool,
}

#[derive(Debug)]
struct Auth {
    config: Arc<AuthConfig>,
    jwt: Option<JwtRoute>,
    api_key_header: Option<HeaderName>,
    basic: bool,
    realm: String,
    require: Requirement,
    per_method: Vec<(Method, Requirement)>,
    consumer_header: HeaderName,
    groups_header: HeaderName,
    claim_headers: Vec<(String, HeaderName)>,
}

/// The outcome of trying the route's mechanisms.
enum Failure {
    /// No credentials of an accepted kind.
    Missing,
    /// Credentials of this mechanism were wrong; fixed detail.
    Invalid(&'static str, &'static str),
    /// The JWT's key cannot be had now.
    KeyUnavailable(u64),
}

impl Auth {
    fn challenges(&self, failed: Option<(&str, &str)>) -> Vec<HeaderValue> {
        let realm = &self.realm;
        let mut out = Vec::new();
        if self.jwt.is_some() {
            let mut v = format!("Bearer realm=\"{realm}\"");
            if let Some(("jwt", why)) = failed {
                v.push_str(&format!(
                    ", error=\"invalid_token\", error_description=\"{why}\""
                ));
            }
            out.push(v);
        }
        if self.basic {
            out.push(format!("Basic realm=\"{realm}\", charset=\"UTF-8\""));
        }
        if let Some(h) = &self.api_key_header {
            out.push(format!("ApiKey realm=\"{realm}\", header=\"{h}\""));
        }
        out.into_iter()
            .filter_map(|v| HeaderValue::from_str(&v).ok())
            .collect()
    }

    fn reject(&self, failure: Failure) -> GatewayError {
        let (rejection, failed) = match failure {
            Failure::Missing => (
                Rejection::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Authentication required",
                ),
                None,
            ),
            Failure::Invalid(mechanism, why) => (
                Rejection::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid-credentials",
                    "Invalid credentials",
                )
                .with_detail(format!("{why}.")),
                Some((mechanism, why)),
            ),
            Failure::KeyUnavailable(retry) => {
                let status = self
                    .jwt
                    .as_ref()
                    .map_or(StatusCode::SERVICE_UNAVAILABLE, |j| j.unavailable_status);
                if status == StatusCode::UNAUTHORIZED {
                    return self.reject(Failure::Invalid("jwt", "signing key unavailable"));
                }
                let r = Rejection::new(
                    status,
                    "auth-keys-unavailable",
                    "Authentication keys unavailable",
                )
                .with_header(RETRY_AFTER, HeaderValue::from(retry));
                return r.into();
            }
        };
        let mut r = rejection;
        for v in self.challenges(failed) {
            r = r.with_header(WWW_AUTHENTICATE, v);
        }
        r.into()
    }

    fn identity_for(&self, consumer: usize, mechanism: &'static str) -> Option<Identity> {
        let c = self.config.consumers.get(consumer)?;
        Some(Identity {
            consumer: Some(c.id.to_string()),
            mechanism,
            groups: c.groups.clone(),
            scopes: c.scopes.clone(),
            issuer: None,
            claims: serde_json::Map::new(),
        })
    }

    async fn authenticate(
        &self,
        req: &mut Request<Body>,
        cx: &Cx<'_>,
    ) -> Result<(Identity, Option<Claims>), Failure> {
        if let Some(h) = &self.api_key_header
            && let Some(key) = req.headers().get(h)
        {
            let found = self.config.consumers.api_keys.find(key.as_bytes());
            return found
                .and_then(|i| self.identity_for(i, "api_key"))
                .map(|id| (id, None))
                .ok_or(Failure::Invalid("api_key", "unknown API key"));
        }
        let mut auth = req.headers().get_all(AUTHORIZATION).iter();
        let (first, second) = (auth.next(), auth.next());
        if second.is_some() {
            return Err(Failure::Invalid(
                "header",
                "more than one Authorization header",
            ));
        }
        let mut token = None;
        if let Some(value) = first {
            if self.basic
                && let Some(parsed) = parse_basic(value.as_bytes())
            {
                let (user, password) = parsed
                    .map_err(|()| Failure::Invalid("basic", "malformed basic credentials"))?;
                let now = cx.env.clock.now_ms();
                return self
                    .config
                    .consumers
                    .basic
                    .verify(&user, &password, now)
                    .and_then(|i| self.identity_for(i, "basic"))
                    .map(|id| (id, None))
                    .ok_or(Failure::Invalid("basic", "wrong user name or password"));
            }
            if self.jwt.is_some() {
                token = bearer(value.as_bytes());
            }
        }
        let Some(jwt) = &self.jwt else {
            return Err(Failure::Missing);
        };
        if token.is_none()
            && let Some(name) = &jwt.cookie
        {
            token = cookie(req, name);
        }
        if token.is_none()
            && let Some(name) = &jwt.query
        {
            token = take_query_param(req, name);
        }
        let token = token.ok_or(Failure::Missing)?;
        // With several issuers, report the most telling refusal: one from
        // an issuer that accepts the token's algorithm and has its key.
        let rank = |e: &JwtError| match e {
            JwtError::KeyUnavailable => 3,
            JwtError::Invalid("algorithm not accepted") => 0,
            JwtError::Invalid("no key matches the token") => 1,
            JwtError::Invalid(_) => 2,
        };
        let mut last = JwtError::Invalid("algorithm not accepted");
        for issuer in &jwt.issuers {
            match issuer.verify(&token, cx.env).await {
                Ok(claims) => return Ok((self.jwt_identity(issuer, &claims), Some(claims))),
                Err(e) if rank(&e) >= rank(&last) => last = e,
                Err(_) => {}
            }
        }
        Err(match last {
            JwtError::Invalid(why) => Failure::Invalid("jwt", why),
            JwtError::KeyUnavailable => Failure::KeyUnavailable(
                jwt.issuers
                    .iter()
                    .filter_map(|i| i.jwks.as_ref())
                    .map(|j| j.retry_after_s())
                    .min()
                    .unwrap_or(30),
            ),
        })
    }

    fn jwt_identity(&self, issuer: &Issuer, claims: &Claims) -> Identity {
        let consumer = claims
            .get(&issuer.consumer_claim)
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        let mut groups = consumer
            .as_deref()
            .and_then(|c| self.config.consumers.by_id(c))
            .map(|c| c.groups.clone())
            .unwrap_or_default();
        if let Some(g) = &issuer.groups_claim {
            groups.extend(string_list(claims.get(g)));
        }
        Identity {
            consumer,
            mechanism: "jwt",
            groups,
            scopes: scopes(claims),
            issuer: Some(issuer.name().to_owned()),
            // Moved in once the claims have been forwarded (no copy).
            claims: serde_json::Map::new(),
        }
    }

    fn requirement(&self, method: &Method) -> &Requirement {
        self.per_method
            .iter()
            .find(|(m, _)| m == method)
            .map_or(&self.require, |(_, r)| r)
    }

    fn forward(&self, req: &mut Request<Body>, id: &Identity, claims: Option<&Claims>) {
        let h = req.headers_mut();
        if let Some(c) = &id.consumer
            && let Ok(v) = HeaderValue::from_str(c)
        {
            h.insert(&self.consumer_header, v);
        }
        if !id.groups.is_empty()
            && let Ok(v) = HeaderValue::from_str(&id.groups.join(","))
        {
            h.insert(&self.groups_header, v);
        }
        if let Some(claims) = claims {
            for (claim, header) in &self.claim_headers {
                let Some(text) = claim_text(claims, claim) else {
                    continue;
                };
                if let Ok(v) = HeaderValue::from_str(&text) {
                    h.insert(header, v);
                }
            }
        }
    }
}

/// The token of an `Authorization: Bearer` value (scheme in any case).
fn bearer(value: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(value).ok()?.trim();
    let (scheme, token) = s.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

fn cookie(req: &Request<Body>, name: &str) -> Option<String> {
    req.headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// Removes query parameter `name` from the request and returns its value.
fn take_query_param(req: &mut Request<Body>, name: &str) -> Option<String> {
    let uri = req.uri().clone();
    let query = uri.query()?;
    let mut found = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            if found.is_none() {
                found = Some(percent_decode_str(v).decode_utf8_lossy().into_owned());
            }
        } else {
            kept.push(pair);
        }
    }
    found.as_ref()?;
    let pq = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let mut parts = uri.into_parts();
    parts.path_and_query = pq.parse().ok();
    if let Ok(u) = Uri::from_parts(parts) {
        *req.uri_mut() = u;
    }
    found
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl Policy for Auth {
    fn name(&self) -> &'static str {
        "auth"
    }

    async fn on_request(
        &self,
        req: &mut Request<Body>,
        cx: &mut Cx<'_>,
    ) -> Result<Flow, GatewayError> {
        // Identity headers come from the gateway only.
        {
            let h = req.headers_mut();
            h.remove(&self.consumer_header);
            h.remove(&self.groups_header);
            for (_, name) in &self.claim_headers {
                h.remove(name);
            }
        }
        let (mut identity, claims) = self
            .authenticate(req, cx)
            .await
            .map_err(|f| self.reject(f))?;
        if !self.requirement(req.method()).allows(&identity) {
            let mut r = Rejection::new(StatusCode::FORBIDDEN, "forbidden", "Access denied")
                .with_detail("A required group or scope is missing.");
            if identity.mechanism == "jwt"
                && let Ok(v) = HeaderValue::from_str(&format!(
                    "Bearer realm=\"{}\", error=\"insufficient_scope\"",
                    self.realm
                ))
            {
                r = r.with_header(WWW_AUTHENTICATE, v);
            }
            return Err(r.into());
        }
        if let Some(h) = &self.api_key_header {
            if identity.mechanism == "api_key"
                && let Some(key) = req.headers().get(h)
            {
                let digest = super::api_key::hash_api_key_bytes(key.as_bytes());
                cx.extensions
                    .insert(super::ApiKeyId(digest[..16].to_owned()));
            }
            req.headers_mut().remove(h);
        }
        let strip_authorization = match identity.mechanism {
            "basic" => true,
            "jwt" => self.jwt.as_ref().is_some_and(|j| j.strip_token),
            _ => false,
        };
        if strip_authorization {
            req.headers_mut().remove(AUTHORIZATION);
        }
        self.forward(req, &identity, claims.as_ref());
        identity.claims = claims.unwrap_or_default();
        cx.extensions.insert(identity);
        Ok(Flow::Continue)
    }
}

fn header(name: &str, at: &str, cx: &BuildCx, problems: &mut Vec<ConfigProblem>) -> HeaderName {
    HeaderName::from_bytes(name.as_bytes()).unwrap_or_else(|_| {
        problems.push(cx.problem(at, format!("`{name}` is not a valid header name")));
        HeaderName::from_static("x-invalid")
    })
}

fn requirement(groups: &[String], scopes: &[String]) -> Requirement {
    Requirement {
        groups: groups.to_vec(),
        scopes: scopes.to_vec(),
    }
}

fn build(value: &serde_json::Value, cx: &BuildCx) -> Result<Arc<dyn Policy>, Vec<ConfigProblem>> {
    let spec: AuthSpec = cx.settings(value)?;
    let config = cx.auth.clone();
    let mut problems = Vec::new();
    if spec.jwt.is_none() && spec.api_key.is_none() && spec.basic.is_none() {
        problems.push(cx.problem("", "name at least one of `jwt`, `api_key`, `basic`"));
    }
    let jwt = spec.jwt.as_ref().map(|j| {
        if j.issuers.is_empty() {
            problems.push(cx.problem("jwt.issuers", "name at least one issuer"));
        }
        let issuers = j
            .issuers
            .iter()
            .enumerate()
            .filter_map(|(i, name)| match config.issuers.get(name) {
                Some(iss) => Some(iss.clone()),
                None => {
                    let known: Vec<&str> = config.issuers.keys().map(String::as_str).collect();
                    problems.push(cx.problem(
                        &format!("jwt.issuers[{i}]"),
                        format!(
                            "unknown issuer `{name}`; defined in `jwt_issuers`: {}",
                            if known.is_empty() {
                                "none".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ),
                    ));
                    None
                }
            })
            .collect();
        let unavailable_status = match j.key_unavailable_status {
            None | Some(503) => StatusCode::SERVICE_UNAVAILABLE,
            Some(401) => StatusCode::UNAUTHORIZED,
            Some(_) => {
                problems.push(cx.problem("jwt.key_unavailable_status", "503 or 401"));
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        JwtRoute {
            issuers,
            cookie: j.cookie.clone(),
            query: j.query.clone(),
            unavailable_status,
            strip_token: j.strip_token,
        }
    });
    let api_key_header = spec.api_key.as_ref().map(|a| {
        if !config.consumers.has_api_keys() {
            problems.push(cx.problem("api_key", "no consumer has an API key"));
        }
        header(
            a.header.as_deref().unwrap_or("x-api-key"),
            "api_key.header",
            cx,
            &mut problems,
        )
    });
    if spec.basic.is_some() && !config.consumers.has_basic() {
        problems.push(cx.problem("basic", "no consumer has basic-auth credentials"));
    }
    let realm = spec.realm.clone().unwrap_or_else(|| "gateway".into());
    if realm.is_empty()
        || realm
            .chars()
            .any(|c| c == '"' || c == '\\' || !(' '..='~').contains(&c))
    {
        problems.push(cx.problem("realm", "printable ASCII without `\"` or `\\`"));
    }
    let mut per_method = Vec::new();
    for (m, r) in &spec.require.methods {
        match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
            Ok(method) => per_method.push((method, requirement(&r.groups, &r.scopes))),
            Err(_) => problems.push(cx.problem(
                &format!("require.methods.{m}"),
                format!("`{m}` is not a method"),
            )),
        }
    }
    let f = &spec.forward;
    let consumer_header = header(
        f.consumer_header.as_deref().unwrap_or("x-consumer-id"),
        "forward.consumer_header",
        cx,
        &mut problems,
    );
    let groups_header = header(
        f.groups_header.as_deref().unwrap_or("x-consumer-groups"),
        "forward.groups_header",
        cx,
        &mut problems,
    );
    let claim_headers = f
        .claims
        .iter()
        .map(|(claim, h)| {
            (
                claim.clone(),
                header(h, &format!("forward.claims.{claim}"), cx, &mut problems),
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Arc::new(Auth {
        config,
        jwt,
        api_key_header,
        basic: spec.basic.is_some(),
        realm,
        require: requirement(&spec.require.groups, &spec.require.scopes),
        per_method,
        consumer_header,
        groups_header,
        claim_headers,
    }))
}

pub(crate) const FACTORY: PolicyFactory = PolicyFactory {
    kind: "auth",
    build,
    schema: |g| g.subschema_for::<AuthSpec>(),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(
            bearer(b"bEaReR abc.def.ghi").as_deref(),
            Some("abc.def.ghi")
        );
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearerabc"), None);
    }

    #[test]
    fn the_query_token_is_taken_out_of_the_uri() {
        let mut req = Request::builder()
            .uri("/p?a=1&access_token=x%2Ey&b=2")
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            take_query_param(&mut req, "access_token").as_deref(),
            Some("x.y")
        );
        assert_eq!(req.uri(), "/p?a=1&b=2");
        let mut req = Request::builder()
            .uri("/p?access_token=t")
            .body(Body::empty())
            .expect("request");
        assert_eq!(
            take_query_param(&mut req, "access_token").as_deref(),
            Some("t")
        );
        assert_eq!(req.uri(), "/p");
        assert_eq!(take_query_param(&mut req, "access_token"), None);
    }

    #[test]
    fn cookies_are_found_by_name() {
        let req = Request::builder()
            .header(COOKIE, "a=1; session=tok")
            .header(COOKIE, "other=2")
            .body(Body::empty())
            .expect("request");
        assert_eq!(cookie(&req, "session").as_deref(), Some("tok"));
        assert_eq!(cookie(&req, "sess"), None);
    }

    #[test]
    fn groups_are_any_of_and_scopes_all_of() {
        let id = Identity {
            consumer: Some("ada".into()),
            mechanism: "jwt",
            groups: vec!["staff".into()],
            scopes: vec!["read".into()],
            issuer: None,
            claims: serde_json::Map::new(),
        };
        assert!(requirement(&["admin".into(), "staff".into()], &[]).allows(&id));
        assert!(!requirement(&["admin".into()], &[]).allows(&id));
        assert!(requirement(&[], &["read".into()]).allows(&id));
        assert!(!requirement(&[], &["read".into(), "write".into()]).allows(&id));
    }
}
