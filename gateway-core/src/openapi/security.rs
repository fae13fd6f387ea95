//! `auth` policies as Security Scheme Objects and Security Requirements.

use serde_json::{Value, json};

use super::operation::OperationNotes;
use crate::auth::AuthSpec;

/// A component name: letters, digits, `.`, `-` and `_` only.
pub(crate) fn component_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Adds the credentials an `auth` policy accepts (any one of them) and
/// the groups and scopes it requires for the operation's method.
pub(crate) fn describe(settings: &Value, notes: &mut OperationNotes) {
    let Ok(spec) = serde_json::from_value::<AuthSpec>(settings.clone()) else {
        return;
    };
    let (groups, scopes) = match spec
        .require
        .methods
        .iter()
        .find(|(m, _)| m.eq_ignore_ascii_case(&notes.method))
    {
        Some((_, m)) => (m.groups.clone(), m.scopes.clone()),
        None => (spec.require.groups.clone(), spec.require.scopes.clone()),
    };
    let mut schemes: Vec<(String, Value)> = Vec::new();
    if let Some(jwt) = &spec.jwt {
        schemes.push((
            "bearerAuth".to_owned(),
            json!({
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A JWT in `Authorization: Bearer <token>`.",
            }),
        ));
        if let Some(cookie) = &jwt.cookie {
            schemes.push((
                format!("jwtCookie.{}", component_name(cookie)),
                json!({ "type": "apiKey", "in": "cookie", "name": cookie,
                        "description": "A JWT in this cookie." }),
            ));
        }
        if let Some(q) = &jwt.query {
            schemes.push((
                format!("jwtQuery.{}", component_name(q)),
                json!({ "type": "apiKey", "in": "query", "name": q,
                        "description": "A JWT in this query parameter." }),
            ));
        }
        if !jwt.issuers.is_empty() {
            notes.notes.push(format!(
                "JWTs are accepted from the issuers: {}.",
                jwt.issuers.join(", ")
            ));
        }
    }
    if let Some(key) = &spec.api_key {
        let header = key.header.clone().unwrap_or_else(|| "X-API-Key".to_owned());
        schemes.push((
            format!("apiKey.{}", component_name(&header)),
            json!({ "type": "apiKey", "in": "header", "name": header,
                    "description": "A consumer's API key." }),
        ));
    }
    if spec.basic.is_some() {
        schemes.push((
            "basicAuth".to_owned(),
            json!({ "type": "http", "scheme": "basic",
                    "description": "A consumer's name and password." }),
        ));
    }
    // Each `auth` policy narrows access: with two of them a request needs
    // both, which Security Requirements express as one object per
    // combination. One policy per route is the norm; a second one's
    // mechanisms are combined with each earlier alternative.
    let mut alternatives: Vec<Value> = Vec::new();
    for (name, scheme) in schemes {
        notes.security_schemes.insert(name.clone(), scheme);
        alternatives.push(json!({ name: scopes }));
    }
    notes.security = if notes.security.is_empty() {
        alternatives
    } else {
        let mut combined = Vec::new();
        for earlier in &notes.security {
            for alt in &alternatives {
                let mut m = earlier.as_object().cloned().unwrap_or_default();
                if let Some(a) = alt.as_object() {
                    m.extend(a.clone());
                }
                combined.push(Value::Object(m));
            }
        }
        combined
    };
    notes.errors.insert(401);
    if !groups.is_empty() {
        notes.notes.push(format!(
            "The caller must belong to one of the groups: {}.",
            groups.join(", ")
        ));
    }
    if !scopes.is_empty() {
        notes.notes.push(format!(
            "The caller needs the scopes: {}.",
            scopes.join(", ")
        ));
    }
    if !groups.is_empty() || !scopes.is_empty() {
        notes.errors.insert(403);
    }
    if spec.jwt.is_some() {
        notes.errors.insert(503);
    }
}
