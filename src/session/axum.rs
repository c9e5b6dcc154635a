//! The axum extractor: `async fn handler(session: Session)`.

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::Session;

/// The request has no session: the [`SessionLayer`](super::SessionLayer) is missing on
/// this route. Answers 500, since it is a bug in the application.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no session in the request: add SessionLayer to this route")]
pub struct MissingSessionLayer;

impl IntoResponse for MissingSessionLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for Session {
    type Rejection = MissingSessionLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or(MissingSessionLayer)
    }
}

impl<S: Send + Sync> axum_core::extract::OptionalFromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Session>().cloned())
    }
}
