//! The admin endpoints. Every request needs the token first (401 before
//! anything else, unknown paths included); every answer is JSON (metrics:
//! Prometheus text) and every error problem+json.

use gateway_core::Body;
use gateway_tokio::body::from_incoming;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::AdminState;
use super::respond::{json, problem, with_type};
use crate::reload::{ReloadOutcome, reload_now};

/// Largest request body read (purge requests).
const MAX_BODY: u64 = 16 * 1024;

/// The endpoints and the methods they take.
const ENDPOINTS: &[(&str, Method)] = &[
    ("/config", Method::GET),
    ("/reload", Method::POST),
    ("/routes", Method::GET),
    ("/upstreams", Method::GET),
    ("/cache/purge", Method::POST),
    ("/registry", Method::GET),
    ("/metrics", Method::GET),
];

/// Answers one admin request.
pub(crate) async fn handle(state: &AdminState, req: Request<Incoming>) -> Response<Body> {
    if let Err(e) = state.token.admit(req.headers(), "admin") {
        return e.into_response();
    }
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let Some((_, method)) = ENDPOINTS.iter().find(|(p, _)| *p == path) else {
        return problem(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!(
                "the admin API answers {}",
                ENDPOINTS
                    .iter()
                    .map(|(p, m)| format!("{m} {p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    };
    let head_of_get = *method == Method::GET && req.method() == Method::HEAD;
    if req.method() != method && !head_of_get {
        let mut resp = problem(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            format!("{path} takes {method}"),
        );
        if let Ok(v) = http::HeaderValue::from_str(method.as_str()) {
            resp.headers_mut().insert(http::header::ALLOW, v);
        }
        return resp;
    }
    match path.as_str() {
        "/config" => config(state),
        "/reload" => reload(state),
        "/routes" => routes(state),
        "/upstreams" => json(
            StatusCode::OK,
            &json!({ "upstreams": state.gateway.upstream_status().await }),
        ),
        "/cache/purge" => purge(state, req).await,
        "/registry" => registry(state).await,
        _ => metrics(state).await,
    }
}

/// `GET /config`: the file the config came from and its values, secrets
/// redacted.
fn config(state: &AdminState) -> Response<Body> {
    let cfg = state.gateway.config();
    json(
        StatusCode::OK,
        &json!({ "source": cfg.source(), "config": cfg.redacted() }),
    )
}

/// `POST /reload`: what the file watcher does, answered.
fn reload(state: &AdminState) -> Response<Body> {
    match reload_now(&state.config_path, &state.gateway) {
        ReloadOutcome::Applied(summary) => json(
            StatusCode::OK,
            &json!({
                "result": "applied",
                "file": state.config_path.display().to_string(),
                "routes": summary.routes,
                "restart_required": summary.restart_required,
            }),
        ),
        ReloadOutcome::Refused(e) => {
            let problems: Vec<_> = e
                .problems
                .iter()
                .map(|p| json!({ "file": e.file, "field": p.path, "problem": p.message }))
                .collect();
            let body = json!({
                "type": "urn:gateway:problem:invalid-config",
                "title": "Config refused",
                "status": 422,
                "detail": "the config file is invalid; the last good config keeps serving",
                "problems": problems,
            });
            with_type(
                StatusCode::UNPROCESSABLE_ENTITY,
                body.to_string(),
                "application/problem+json",
            )
        }
    }
}

/// `GET /routes`: the routes the `routes` command lists, as JSON. Values
/// of required request headers are redacted (they may be secrets; `GET
/// /config` shows the ones that are not).
fn routes(state: &AdminState) -> Response<Body> {
    let mut routes = state.gateway.config().routes();
    for r in &mut routes {
        for h in &mut r.info.headers {
            if let Some((name, _)) = h.split_once('=') {
                *h = format!("{name}={}", gateway_core::config::redact::REDACTED);
            }
        }
    }
    json(StatusCode::OK, &json!({ "routes": routes }))
}

/// `POST /cache/purge`: the purge API's body and answer, with the admin
/// token instead of the purge API's.
async fn purge(state: &AdminState, req: Request<Incoming>) -> Response<Body> {
    match from_incoming(req.into_body(), None).collect(MAX_BODY).await {
        Ok(body) => state.gateway.purge_cache(&body).await,
        Err(e) => gateway_core::GatewayError::from(e).into_response(),
    }
}

/// `GET /registry`: every service with live instances, and the instances.
async fn registry(state: &AdminState) -> Response<Body> {
    let Some(registry) = state.gateway.registry() else {
        return problem(
            StatusCode::NOT_FOUND,
            "no-registry",
            "No service registry",
            "this gateway has no service registry",
        );
    };
    let unavailable = |e: gateway_core::discovery::DirectoryError| {
        tracing::warn!(error = %e, "admin: the registry could not be read");
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "registry-unavailable",
            "Registry unavailable",
            "the registry's store could not be read",
        )
    };
    let services = match registry.services().await {
        Ok(s) => s,
        Err(e) => return unavailable(e),
    };
    let mut out = Vec::with_capacity(services.len());
    for s in services {
        match registry.registrations(&s.name).await {
            Ok(instances) => out.push(json!({ "name": s.name, "instances": instances })),
            Err(e) => return unavailable(e),
        }
    }
    json(StatusCode::OK, &json!({ "services": out }))
}

/// `GET /metrics`: the Prometheus exposition, state gauges refreshed.
async fn metrics(state: &AdminState) -> Response<Body> {
    let Some(handle) = &state.metrics else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics-unavailable",
            "Metrics unavailable",
            "another metrics recorder was installed in this process",
        );
    };
    super::metrics::refresh(&state.gateway).await;
    with_type(
        StatusCode::OK,
        handle.render(),
        "text/plain; version=0.0.4; charset=utf-8",
    )
}
