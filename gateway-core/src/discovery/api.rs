//! The registry's HTTP API, answered by the gateway before routing:
//!
//! | request | answer |
//! | --- | --- |
//! | `GET {prefix}/services` | 200 [`ServicesResponse`] |
//! | `GET {prefix}/services/{service}/instances` | 200 [`InstancesResponse`] (empty list for an unknown service) |
//! | `PUT {prefix}/services/{service}/instances/{id}` | 200 [`Registration`](super::Registration), body [`RegisterRequest`] |
//! | `POST {prefix}/services/{service}/instances/{id}/heartbeat` | 200 registration, or 404 when it lapsed |
//! | `DELETE {prefix}/services/{service}/instances/{id}` | 204, or 404 when not registered |
//!
//! Every request needs `Authorization: Bearer <token>` (401 otherwise,
//! before anything else is looked at). Errors are problem+json.

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::config::{MIN_TTL, RegistryConfig};
use super::wire::{HeartbeatRequest, InstancesResponse, RegisterRequest, ServicesResponse};
use super::{DirectoryError, ServiceRegistry, check_names};
use crate::answer::json;
use crate::body::Body;
use crate::error::{GatewayError, Rejection, RouteError};

/// Largest request body the API reads.
const MAX_BODY: u64 = 16 * 1024;

fn method_not_allowed(allow: &[Method]) -> GatewayError {
    RouteError::MethodNotAllowed {
        allow: allow.to_vec(),
    }
    .into()
}

/// Reads a JSON body; `None` when it is empty.
async fn read_json<T: DeserializeOwned>(req: Request<Body>) -> Result<Option<T>, GatewayError> {
    let bytes = req.into_body().collect(MAX_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| DirectoryError::Invalid(format!("body: {e}")).into())
}

fn ttl(
    ms: Option<u64>,
    default: Option<Duration>,
    cfg: &RegistryConfig,
) -> Result<Option<Duration>, DirectoryError> {
    let Some(ms) = ms else { return Ok(default) };
    let ttl = Duration::from_millis(ms);
    if ttl < MIN_TTL || ttl > cfg.max_ttl {
        return Err(DirectoryError::Invalid(format!(
            "ttl_ms: must be between {} and {}",
            MIN_TTL.as_millis(),
            cfg.max_ttl.as_millis()
        )));
    }
    Ok(Some(ttl))
}

/// Answers a request under the registry prefix. `registry` is what the
/// target wired in ([`Gateway::with_directory`](crate::Gateway::with_directory)).
pub(crate) async fn serve(
    registry: Option<&dyn ServiceRegistry>,
    cfg: &RegistryConfig,
    req: Request<Body>,
) -> Result<Response<Body>, GatewayError> {
    cfg.admit(req.headers(), "registry")?;
    let Some(registry) = registry else {
        return Err(Rejection::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "registry-unavailable",
            "Registry unavailable",
        )
        .into());
    };
    let path = req.uri().path().to_owned();
    let rest = path[cfg.prefix.len()..].trim_start_matches('/');
    let segments: Vec<&str> = rest.split('/').collect();
    let method = req.method().clone();
    match segments.as_slice() {
        ["services"] => {
            if method != Method::GET {
                return Err(method_not_allowed(&[Method::GET]));
            }
            let services = registry.services().await?;
            Ok(json(StatusCode::OK, &ServicesResponse { services }))
        }
        ["services", service, "instances"] => {
            if method != Method::GET {
                return Err(method_not_allowed(&[Method::GET]));
            }
            check_names(service, None)?;
            let instances = registry.registrations(service).await?;
            Ok(json(
                StatusCode::OK,
                &InstancesResponse {
                    service: (*service).to_owned(),
                    instances,
                },
            ))
        }
        ["services", service, "instances", id] => {
            check_names(service, Some(id))?;
            match method {
                Method::PUT => {
                    let (service, id) = ((*service).to_owned(), (*id).to_owned());
                    let body: RegisterRequest = read_json(req).await?.ok_or_else(|| {
                        DirectoryError::Invalid(
                            "body: a JSON object with `address` and `port` is required".into(),
                        )
                    })?;
                    let ttl =
                        ttl(body.ttl_ms, Some(cfg.default_ttl), cfg)?.unwrap_or(cfg.default_ttl);
                    let reg = registry
                        .register(body.into_instance(&service, &id), ttl)
                        .await?;
                    Ok(json(StatusCode::OK, &reg))
                }
                Method::DELETE => {
                    if registry.deregister(service, id).await? {
                        let mut resp = Response::new(Body::empty());
                        *resp.status_mut() = StatusCode::NO_CONTENT;
                        Ok(resp)
                    } else {
                        Err(DirectoryError::NotRegistered.into())
                    }
                }
                _ => Err(method_not_allowed(&[Method::PUT, Method::DELETE])),
            }
        }
        ["services", service, "instances", id, "heartbeat"] => {
            if method != Method::POST {
                return Err(method_not_allowed(&[Method::POST]));
            }
            check_names(service, Some(id))?;
            let (service, id) = ((*service).to_owned(), (*id).to_owned());
            let body: HeartbeatRequest = read_json(req).await?.unwrap_or_default();
            let ttl = ttl(body.ttl_ms, None, cfg)?;
            let reg = registry.heartbeat(&service, &id, ttl).await?;
            Ok(json(StatusCode::OK, &reg))
        }
        _ => Err(RouteError::NotFound.into()),
    }
}
