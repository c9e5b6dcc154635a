//! Validating ASP.NET Core antiforgery tokens in a Rust service: the cookie token (cookie
//! named from the application name) and the request token (header or form field) that a
//! .NET front end issued.

use std::borrow::Borrow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::transport::RequestCookies;
use crate::cookie_formats::antiforgery::{
    self, AntiforgeryMismatch, AntiforgeryToken, CurrentUser, validate_pair,
};
use crate::protector::Protector;
use crate::provider::DataProtection;

/// ASP.NET's default header for the request token.
pub const REQUEST_TOKEN_HEADER: &str = "RequestVerificationToken";
/// ASP.NET's default form field for the request token.
pub const REQUEST_TOKEN_FIELD: &str = "__RequestVerificationToken";

/// Why a request failed antiforgery validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AntiforgeryError {
    /// No antiforgery cookie in the request.
    #[error("the antiforgery cookie is missing")]
    MissingCookie,
    /// No request token (header or form field).
    #[error("the antiforgery request token is missing")]
    MissingRequestToken,
    /// A token could not be unprotected or decoded (detail at debug level).
    #[error("an antiforgery token is invalid")]
    Invalid,
    /// Both decode but do not belong together or to this user.
    #[error(transparent)]
    Mismatch(#[from] AntiforgeryMismatch),
}

/// Checks antiforgery token pairs issued by ASP.NET Core (purposes [application,
/// `Microsoft.AspNetCore.Antiforgery.AntiforgeryToken.v1`]).
#[derive(Debug, Clone)]
pub struct Antiforgery {
    protector: Protector,
    cookie_name: String,
}

impl Antiforgery {
    /// A validator for `dp`'s application; the cookie name is derived from the application
    /// name as ASP.NET does.
    pub fn new(dp: impl Borrow<DataProtection>) -> Self {
        let dp = dp.borrow();
        Self {
            protector: dp.protector([antiforgery::PURPOSE]),
            cookie_name: antiforgery::cookie_name(dp.application_name()),
        }
    }

    /// Uses another cookie name (ASP.NET's `AntiforgeryOptions.Cookie.Name`).
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// The antiforgery cookie's name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// Validates the request: the cookie from its `Cookie` headers, the request token from
    /// `request_token` or else the [`REQUEST_TOKEN_HEADER`] header, for `user`.
    ///
    /// # Errors
    /// [`AntiforgeryError`]; the detail of an invalid token is logged at debug level.
    pub async fn validate(
        &self,
        headers: &http::HeaderMap,
        request_token: Option<&str>,
        user: &CurrentUser,
    ) -> Result<(), AntiforgeryError> {
        let cookies = RequestCookies::from_headers(headers);
        let cookie = cookies
            .get(&self.cookie_name)
            .filter(|v| !v.is_empty())
            .ok_or(AntiforgeryError::MissingCookie)?;
        let request = request_token
            .map(str::to_owned)
            .or_else(|| {
                headers
                    .get(REQUEST_TOKEN_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
            .filter(|v| !v.is_empty())
            .ok_or(AntiforgeryError::MissingRequestToken)?;
        let cookie = self.open(cookie).await?;
        let request = self.open(&request).await?;
        validate_pair(&cookie, &request, user, |_| true).map_err(|e| {
            tracing::debug!(reason = %e, "antiforgery validation failed");
            AntiforgeryError::Mismatch(e)
        })
    }

    async fn open(&self, text: &str) -> Result<AntiforgeryToken, AntiforgeryError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| {
                tracing::debug!("antiforgery token is not base64url");
                AntiforgeryError::Invalid
            })?;
        let plain = self
            .protector
            .unprotect_async(&bytes)
            .await
            .map_err(|_| AntiforgeryError::Invalid)?;
        AntiforgeryToken::decode(&plain).map_err(|e| {
            tracing::debug!(error = %e, "antiforgery token does not decode");
            AntiforgeryError::Invalid
        })
    }
}
