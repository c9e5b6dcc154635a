//! Payloads with an authenticated expiration time (ASP.NET's `ITimeLimitedDataProtector`).
//!
//! The inner plaintext is `u64be(expiration in .NET ticks) || payload`, protected with the
//! purpose [`PURPOSE`] appended to the chain.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

use super::{Failure, Protector, counted};
use crate::clock::to_time_duration;
use crate::error::{Error, Result};
use crate::metrics;
use crate::xml::datetime;

/// The purpose ASP.NET appends for time-limited payloads.
pub const PURPOSE: &str = "Microsoft.AspNetCore.DataProtection.TimeLimitedDataProtector.v1";

/// Protects payloads that stop unprotecting after an expiration time. Made by
/// [`Protector::time_limited`].
#[derive(Clone, Debug)]
pub struct TimeLimitedProtector {
    inner: Protector,
}

impl TimeLimitedProtector {
    pub(crate) fn new(inner: Protector) -> Self {
        Self { inner }
    }

    /// Protects `plaintext` until `expiration` (kept within .NET's range: years 1 to 9999 in
    /// UTC).
    ///
    /// # Errors
    /// As [`Protector::protect`].
    pub fn protect(&self, plaintext: &[u8], expiration: OffsetDateTime) -> Result<Vec<u8>> {
        // Clamped to what .NET's DateTimeOffset holds, so every node can read it back.
        let ticks = datetime::to_ticks(expiration).clamp(0, datetime::MAX_TICKS);
        let mut inner = Vec::with_capacity(8 + plaintext.len());
        inner.extend_from_slice(&(ticks as u64).to_be_bytes());
        inner.extend_from_slice(plaintext);
        let out = self.inner.protect(&inner);
        zeroize::Zeroize::zeroize(&mut inner);
        out
    }

    /// Protects `plaintext` for `lifetime` from now (by the provider's clock); a lifetime
    /// past year 9999 means "until the end of 9999".
    ///
    /// # Errors
    /// As [`Protector::protect`].
    pub fn protect_for(&self, plaintext: &[u8], lifetime: std::time::Duration) -> Result<Vec<u8>> {
        let now = self.inner.manager().clock().now();
        self.protect(plaintext, now.saturating_add(to_time_duration(lifetime)))
    }

    /// Unprotects; returns the plaintext and its expiration time.
    ///
    /// # Errors
    /// [`Error::PayloadExpired`] for an authentic payload past its expiration,
    /// [`Error::InvalidPayload`] for anything else.
    pub fn unprotect(&self, protected: &[u8]) -> Result<(Vec<u8>, OffsetDateTime)> {
        self.finish(self.inner.open_current(protected))
    }

    /// Like [`unprotect`](Self::unprotect), reloading the ring for unknown keys.
    ///
    /// # Errors
    /// As [`unprotect`](Self::unprotect).
    pub async fn unprotect_async(&self, protected: &[u8]) -> Result<(Vec<u8>, OffsetDateTime)> {
        self.finish(self.inner.open_reloading(protected).await)
    }

    /// Checks the expiration of an opened payload and counts the outcome.
    fn finish(&self, opened: Result<Vec<u8>, Failure>) -> Result<(Vec<u8>, OffsetDateTime)> {
        let inner = match opened {
            Ok(inner) => inner,
            Err(failure) => return counted(Err(failure)),
        };
        let result = self.check(inner);
        metrics::unprotect(match &result {
            Ok(_) => "ok",
            Err(Error::PayloadExpired(_)) => "expired",
            Err(_) => "invalid",
        });
        result
    }

    /// Protects a string until `expiration`; base64url without padding.
    ///
    /// # Errors
    /// As [`Protector::protect`].
    pub fn protect_str(&self, plaintext: &str, expiration: OffsetDateTime) -> Result<String> {
        Ok(URL_SAFE_NO_PAD.encode(self.protect(plaintext.as_bytes(), expiration)?))
    }

    /// Reverses [`protect_str`](Self::protect_str).
    ///
    /// # Errors
    /// As [`unprotect`](Self::unprotect), and [`Error::InvalidPayload`] for bad base64 or
    /// non-UTF-8 plaintext.
    pub fn unprotect_str(&self, protected: &str) -> Result<(String, OffsetDateTime)> {
        let bytes = URL_SAFE_NO_PAD
            .decode(protected.trim_end_matches('='))
            .map_err(|_| Error::InvalidPayload)?;
        let (plaintext, expiration) = self.unprotect(&bytes)?;
        let text = String::from_utf8(plaintext).map_err(|_| Error::InvalidPayload)?;
        Ok((text, expiration))
    }

    fn check(&self, mut inner: Vec<u8>) -> Result<(Vec<u8>, OffsetDateTime)> {
        let Some((header, _)) = inner.split_first_chunk::<8>() else {
            tracing::debug!("unprotect failed: time-limited payload shorter than its header");
            return Err(Error::InvalidPayload);
        };
        let ticks = u64::from_be_bytes(*header);
        let Some(expiration) = datetime::from_ticks(i128::from(ticks)) else {
            tracing::debug!("unprotect failed: expiration out of range");
            return Err(Error::InvalidPayload);
        };
        if self.inner.manager().clock().now() > expiration {
            zeroize::Zeroize::zeroize(&mut inner);
            return Err(Error::PayloadExpired(expiration));
        }
        inner.drain(..8);
        Ok((inner, expiration))
    }
}
