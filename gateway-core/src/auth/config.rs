//! Settings of the `auth` policy, as written in a route's `policies`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// Settings of the `auth` policy. At least one mechanism is required; a
/// request may use any one of them.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// Accept JWT bearer tokens.
    pub jwt: Option<JwtAuthSpec>,
    /// Accept consumers' API keys.
    pub api_key: Option<ApiKeyAuthSpec>,
    /// Accept consumers' basic-auth passwords.
    pub basic: Option<BasicAuthSpec>,
    /// Realm named in `WWW-Authenticate`. Default `gateway`.
    pub realm: Option<String>,
    /// Groups and scopes the caller needs.
    #[serde(default)]
    pub require: RequireSpec,
    /// Identity headers sent upstream.
    #[serde(default)]
    pub forward: ForwardSpec,
}

/// JWT settings of a route.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtAuthSpec {
    /// Names of the accepted issuers (from `jwt_issuers:`).
    pub issuers: Vec<String>,
    /// Also read the token from this cookie (opt-in).
    pub cookie: Option<String>,
    /// Also read the token from this query parameter (opt-in; removed before forwarding).
    pub query: Option<String>,
    /// Status when the token's key cannot be had (JWKS endpoint down): 503 (default) or 401.
    pub key_unavailable_status: Option<u16>,
    /// Remove `Authorization` before forwarding. Default false.
    #[serde(default)]
    pub strip_token: bool,
}

/// API-key settings of a route.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyAuthSpec {
    /// Request header carrying the key. Default `X-API-Key`. Always removed before forwarding.
    pub header: Option<String>,
}

/// Basic-auth settings of a route (none yet: `basic: {}`).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthSpec {}

/// What the caller needs; `methods` replaces the defaults for the methods it names.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequireSpec {
    /// The caller must be in at least one of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The caller must have every one of these scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Per-method requirements, e.g. `{ POST: { scopes: [write] } }`.
    #[serde(default)]
    pub methods: BTreeMap<String, MethodRequireSpec>,
}

/// Requirements for one method.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MethodRequireSpec {
    /// The caller must be in at least one of these groups.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The caller must have every one of these scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Identity headers sent upstream. Client-sent headers of these names are
/// always removed first.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardSpec {
    /// Header with the consumer id. Default `X-Consumer-Id`.
    pub consumer_header: Option<String>,
    /// Header with the consumer's groups, comma-separated. Default `X-Consumer-Groups`.
    pub groups_header: Option<String>,
    /// JWT claim → header, e.g. `{ email: X-User-Email }`.
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
}
