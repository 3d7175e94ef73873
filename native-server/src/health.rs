use std::time::Instant;

use haagenti_proto::v1::fragments_server::Fragments;
use haagenti_proto::v1::{HealthRequest, HealthResponse, health_response};
use tonic::{Request, Response, Status};

/// How a request reached the server, recorded before gRPC-web translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Native gRPC over HTTP/2.
    Grpc,
    /// gRPC-web, as browsers speak it.
    GrpcWeb,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::GrpcWeb => "grpc-web",
        }
    }
}

/// Records the request's [`Protocol`] in its extensions for the handlers.
pub(crate) fn tag_protocol<B>(mut req: http::Request<B>) -> http::Request<B> {
    let grpc_web = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc-web"));
    req.extensions_mut().insert(if grpc_web { Protocol::GrpcWeb } else { Protocol::Grpc });
    req
}

/// Answers `Health`.
#[derive(Debug, Clone)]
pub struct HealthService {
    started: Instant,
}

impl HealthService {
    /// A health service that counts uptime from `started`.
    pub fn new(started: Instant) -> Self {
        HealthService { started }
    }
}

#[tonic::async_trait]
impl Fragments for HealthService {
    async fn health(&self, request: Request<HealthRequest>) -> Result<Response<HealthResponse>, Status> {
        let protocol = request.extensions().get::<Protocol>().copied().unwrap_or(Protocol::Grpc);
        Ok(Response::new(HealthResponse {
            status: health_response::Status::Serving as i32,
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_seconds: self.started.elapsed().as_secs(),
            echo: request.into_inner().client,
            protocol: protocol.name().to_string(),
        }))
    }
}
