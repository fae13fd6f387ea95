//! What a limit counts by: the parts of its `key`, turned into a store key
//! that holds no raw client value.
//!
//! The parts' values are hashed (SHA-256, first 128 bits) under the limit's
//! name, so store keys carry no IPs, header values or credentials, and a
//! limit whose key omits `route` counts across every route that uses it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

use crate::auth::{ApiKeyId, Identity, claim_text};
use crate::policy::Cx;

/// One part of a limit's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyPart {
    /// The client address (trusted-proxies rule), IPv6 grouped by prefix.
    ClientIp,
    /// The consumer id an `auth` policy authenticated.
    Consumer,
    /// The authenticated consumer's groups.
    Group,
    /// The id of the API key that authenticated the request.
    ApiKey,
    /// The matched route's name.
    Route,
    /// A verified JWT claim.
    Claim(String),
    /// A request header.
    Header(HeaderName),
}

impl KeyPart {
    /// Parses `client_ip`, `consumer`, `group`, `api_key`, `route`,
    /// `claim.NAME` or `header.NAME`.
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "client_ip" => Self::ClientIp,
            "consumer" => Self::Consumer,
            "group" => Self::Group,
            "api_key" => Self::ApiKey,
            "route" => Self::Route,
            _ => {
                if let Some(name) = s.strip_prefix("claim.").filter(|n| !n.is_empty()) {
                    Self::Claim(name.to_owned())
                } else if let Some(name) = s.strip_prefix("header.") {
                    Self::Header(
                        HeaderName::from_bytes(name.as_bytes())
                            .map_err(|_| format!("`{name}` is not a header name"))?,
                    )
                } else {
                    return Err(format!(
                        "`{s}` is not a key part: use client_ip, consumer, group, api_key, route, claim.NAME or header.NAME"
                    ));
                }
            }
        })
    }
}

/// The address a limit counts by: IPv4 as is, IPv6 (not IPv4-mapped)
/// truncated to its first `v6_prefix` bits.
pub(crate) fn group_ip(ip: IpAddr, v6_prefix: u8) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX
                .checked_shl(128 - u32::from(v6_prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((bits & mask).into())
        }
        v4 => v4,
    }
}

/// The value of one part for this request, or `None` when it has none.
fn value(part: &KeyPart, headers: &HeaderMap, cx: &Cx<'_>, v6_prefix: u8) -> Option<String> {
    let identity = || cx.extensions.get::<Identity>();
    match part {
        KeyPart::ClientIp => Some(group_ip(cx.client_ip, v6_prefix).to_string()),
        KeyPart::Consumer => identity()?.consumer.clone(),
        KeyPart::Group => {
            let groups = &identity()?.groups;
            (!groups.is_empty()).then(|| groups.join(","))
        }
        KeyPart::ApiKey => cx.extensions.get::<ApiKeyId>().map(|k| k.0.clone()),
        KeyPart::Route => Some(cx.route.to_owned()),
        KeyPart::Claim(name) => claim_text(&identity()?.claims, name).map(Cow::into_owned),
        KeyPart::Header(name) => {
            let v = headers.get(name)?;
            Some(String::from_utf8_lossy(v.as_bytes()).into_owned())
        }
    }
}

/// What stands in for a part the request lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// The limit does not apply to the request.
    Skip,
    /// The request is refused (429).
    Deny,
    /// Every request lacking the part shares one counter.
    Shared,
    /// The client address stands in for the part.
    ClientIp,
}

/// The key's material, or what to do instead.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// Count under this store key.
    Key(String),
    /// Do not apply the limit.
    Skip,
    /// Refuse the request.
    Deny,
}

/// The store key for `limit` (with `tag`, e.g. a consumer group override)
/// and these parts.
pub(crate) fn resolve(
    limit: &str,
    tag: &str,
    parts: &[KeyPart],
    missing: Missing,
    v6_prefix: u8,
    headers: &HeaderMap,
    cx: &Cx<'_>,
) -> Resolved {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    for part in parts {
        h.update([0x1f]);
        match value(part, headers, cx, v6_prefix) {
            Some(v) => h.update(v.as_bytes()),
            None => match missing {
                Missing::Skip => return Resolved::Skip,
                Missing::Deny => return Resolved::Deny,
                Missing::Shared => h.update([0x00]),
                Missing::ClientIp => {
                    h.update([0x01]);
                    h.update(group_ip(cx.client_ip, v6_prefix).to_string().as_bytes());
                }
            },
        }
    }
    let digest = h.finalize();
    let mut key = String::with_capacity(limit.len() + 36);
    key.push_str("rl:");
    key.push_str(limit);
    key.push(':');
    for b in &digest[..16] {
        // Writing to a String cannot fail.
        let _ = write!(key, "{b:02x}");
    }
    Resolved::Key(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_env;
    use http::Request;

    fn cx_for<'a>(env: &'a crate::Env, ip: &str) -> Cx<'a> {
        Cx {
            env,
            route: "orders",
            params: &[],
            client_ip: ip.parse().expect("ip"),
            version: None,
            method: http::Method::GET,
            uri: http::Uri::from_static("/x"),
            extensions: http::Extensions::new(),
        }
    }

    fn key(parts: &[&str], missing: Missing, req: &Request<()>, cx: &Cx<'_>) -> Resolved {
        let parts: Vec<KeyPart> = parts
            .iter()
            .map(|p| KeyPart::parse(p).expect("part"))
            .collect();
        resolve("per_ip", "", &parts, missing, 64, req.headers(), cx)
    }

    #[test]
    fn ipv6_clients_group_by_prefix_ipv4_stays_whole() {
        let g = |ip: &str, p| group_ip(ip.parse().expect("ip"), p).to_string();
        assert_eq!(g("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::");
        assert_eq!(g("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::");
        assert_eq!(g("2001:db8::1", 128), "2001:db8::1");
        assert_eq!(g("2001:db8::1", 0), "::");
        assert_eq!(g("::ffff:192.0.2.7", 64), "192.0.2.7");
        assert_eq!(g("192.0.2.7", 64), "192.0.2.7");
        let env = test_env::env();
        let req = Request::new(());
        let a = key(
            &["client_ip"],
            Missing::Skip,
            &req,
            &cx_for(&env, "2001:db8:0:1::a"),
        );
        let b = key(
            &["client_ip"],
            Missing::Skip,
            &req,
            &cx_for(&env, "2001:db8:0:1::b"),
        );
        let c = key(
            &["client_ip"],
            Missing::Skip,
            &req,
            &cx_for(&env, "2001:db8:0:2::a"),
        );
        assert_eq!(a, b, "one /64 is one client");
        assert_ne!(a, c);
    }

    #[test]
    fn keys_are_hashed_under_the_limit_name_and_composites_differ() {
        let env = test_env::env();
        let cx = cx_for(&env, "192.0.2.7");
        let req = Request::builder()
            .header("x-tenant", "secret-tenant")
            .body(())
            .expect("request");
        let Resolved::Key(k) = key(&["header.x-tenant"], Missing::Skip, &req, &cx) else {
            panic!("a key");
        };
        assert!(k.starts_with("rl:per_ip:"), "{k}");
        assert_eq!(k.len(), "rl:per_ip:".len() + 32);
        assert!(!k.contains("secret") && !k.contains("192.0.2.7"), "{k}");
        let both = key(&["header.x-tenant", "client_ip"], Missing::Skip, &req, &cx);
        assert_ne!(Resolved::Key(k.clone()), both);
        let route = key(&["header.x-tenant", "route"], Missing::Skip, &req, &cx);
        assert_ne!(Resolved::Key(k), route);
    }

    #[test]
    fn missing_parts_follow_the_chosen_behaviour() {
        let env = test_env::env();
        let req = Request::new(());
        let a = cx_for(&env, "192.0.2.7");
        let b = cx_for(&env, "192.0.2.8");
        assert_eq!(key(&["consumer"], Missing::Skip, &req, &a), Resolved::Skip);
        assert_eq!(
            key(&["claim.tenant"], Missing::Deny, &req, &a),
            Resolved::Deny
        );
        assert_eq!(
            key(&["header.x-k"], Missing::Shared, &req, &a),
            key(&["header.x-k"], Missing::Shared, &req, &b)
        );
        assert_ne!(
            key(&["header.x-k"], Missing::ClientIp, &req, &a),
            key(&["header.x-k"], Missing::ClientIp, &req, &b)
        );
        let mut with_id = cx_for(&env, "192.0.2.7");
        with_id.extensions.insert(Identity {
            consumer: Some("ada".into()),
            mechanism: "jwt",
            groups: vec!["gold".into()],
            scopes: vec![],
            issuer: None,
            claims: serde_json::json!({"tenant": 7})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        });
        for part in ["consumer", "group", "claim.tenant"] {
            assert!(
                matches!(
                    key(&[part], Missing::Deny, &req, &with_id),
                    Resolved::Key(_)
                ),
                "{part}"
            );
        }
        assert_eq!(
            key(&["api_key"], Missing::Skip, &req, &with_id),
            Resolved::Skip
        );
        with_id
            .extensions
            .insert(ApiKeyId("0123456789abcdef".into()));
        assert!(matches!(
            key(&["api_key"], Missing::Skip, &req, &with_id),
            Resolved::Key(_)
        ));
    }

    #[test]
    fn bad_parts_are_named() {
        assert!(
            KeyPart::parse("cookie.x")
                .expect_err("refused")
                .contains("`cookie.x` is not a key part")
        );
        assert!(
            KeyPart::parse("header.bad header")
                .expect_err("refused")
                .contains("not a header name")
        );
        assert_eq!(
            KeyPart::parse("claim.sub"),
            Ok(KeyPart::Claim("sub".into()))
        );
    }
}
