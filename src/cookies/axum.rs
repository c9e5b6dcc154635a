//! axum extractors for the cookie layers.

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use super::auth::CookieAuth;
use super::jar::ProtectedCookies;

/// The request lacks the layer an extractor needs (a bug in the application's routing):
/// answers 500.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no {0} in the request: add its layer to this route")]
pub struct MissingCookieLayer(pub &'static str);

impl IntoResponse for MissingCookieLayer {
    fn into_response(self) -> Response {
        tracing::error!("{self}");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// Implements the extractor for a handle the layer put in the extensions.
macro_rules! extension_extractor {
    ($handle:ty, $what:literal) => {
        impl<S: Send + Sync> axum_core::extract::FromRequestParts<S> for $handle {
            type Rejection = MissingCookieLayer;

            async fn from_request_parts(
                parts: &mut Parts,
                _state: &S,
            ) -> Result<Self, Self::Rejection> {
                parts
                    .extensions
                    .get::<$handle>()
                    .cloned()
                    .ok_or(MissingCookieLayer($what))
            }
        }
    };
}

extension_extractor!(ProtectedCookies, "ProtectedCookies");
extension_extractor!(CookieAuth, "CookieAuth");
