//! `tower_service::Service` for [`Gateway`], so axum, hyper-util and
//! lambda_http can drive it directly. The adapter puts a [`ClientInfo`] in
//! the request extensions.

use std::convert::Infallible;
use std::task::{Context, Poll};

use http::{Request, Response};

use super::{ClientInfo, Gateway};
use crate::body::Body;
use crate::env::BoxFuture;

impl tower_service::Service<Request<Body>> for Gateway {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let gw = self.clone();
        let client = req
            .extensions()
            .get::<ClientInfo>()
            .copied()
            .unwrap_or_default();
        Box::pin(async move { Ok(gw.handle(req, client).await) })
    }
}
