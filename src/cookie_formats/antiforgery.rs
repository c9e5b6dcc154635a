//! ASP.NET Core antiforgery tokens: the plaintext of the cookie token and the request token,
//! the cookie name derived from the application name, and the pair check
//! (`DefaultAntiforgeryTokenGenerator.TryValidateTokenSet`).
//!
//! ```text
//! u8 1 | [16] security token | bool isCookieToken
//! request tokens go on: bool isClaimsBased | ([32] claim uid | string username) | string additionalData
//! ```
//!
//! The tokens are protected with purposes [application, [`PURPOSE`]] and sent base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::binary::{BinaryError, Reader, TooLarge, Writer};
use super::ticket::ClaimsIdentity;

/// The purpose antiforgery protects its tokens with (after the application name).
pub const PURPOSE: &str = "Microsoft.AspNetCore.Antiforgery.AntiforgeryToken.v1";
/// The token format version.
pub const TOKEN_VERSION: u8 = 1;
/// The cookie name's prefix.
pub const COOKIE_PREFIX: &str = ".AspNetCore.Antiforgery.";
/// `ClaimTypes.NameIdentifier`.
const NAME_IDENTIFIER: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier";
/// `ClaimTypes.Upn`.
const UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";

/// The antiforgery cookie name ASP.NET derives from the application name (the
/// discriminator): the prefix and base64url of the first 8 bytes of SHA-256 of its UTF-8.
pub fn cookie_name(application_name: &str) -> String {
    let hash = Sha256::digest(application_name.as_bytes());
    let head = hash.get(..8).unwrap_or_default();
    format!("{COOKIE_PREFIX}{}", URL_SAFE_NO_PAD.encode(head))
}

/// Why bytes are not an antiforgery token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AntiforgeryTokenError {
    /// Not version 1.
    #[error("unsupported antiforgery token version {0}")]
    Version(u8),
    /// Truncated, bad UTF-8, trailing bytes.
    #[error("malformed antiforgery token: {0}")]
    Binary(#[from] BinaryError),
    /// A string too large to encode.
    #[error("an antiforgery token value is too large to encode")]
    TooLarge,
}

impl From<TooLarge> for AntiforgeryTokenError {
    fn from(_: TooLarge) -> Self {
        Self::TooLarge
    }
}

/// Whom a request token was issued to.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenUser {
    /// SHA-256 of the user's identifying claims ([`claim_uid`]).
    ClaimUid([u8; 32]),
    /// The user name; empty for an anonymous user.
    Username(String),
}

impl std::fmt::Debug for TokenUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClaimUid(_) => f.write_str("ClaimUid([32 bytes])"),
            Self::Username(u) => f.debug_tuple("Username").field(u).finish(),
        }
    }
}

/// A decoded antiforgery token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AntiforgeryToken {
    /// The cookie token: only the security token.
    Cookie {
        /// The random security token shared with the request token.
        security_token: [u8; 16],
    },
    /// The request token (form field or header).
    Request {
        /// Must equal the cookie token's.
        security_token: [u8; 16],
        /// Whom it was issued to.
        user: TokenUser,
        /// Data an `IAntiforgeryAdditionalDataProvider` added (usually empty).
        additional_data: String,
    },
}

impl std::fmt::Debug for AntiforgeryToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cookie { .. } => f.write_str("AntiforgeryToken::Cookie"),
            Self::Request {
                user,
                additional_data,
                ..
            } => f
                .debug_struct("AntiforgeryToken::Request")
                .field("user", user)
                .field("additional_data", additional_data)
                .finish_non_exhaustive(),
        }
    }
}

impl AntiforgeryToken {
    /// The security token.
    pub fn security_token(&self) -> &[u8; 16] {
        match self {
            Self::Cookie { security_token } | Self::Request { security_token, .. } => {
                security_token
            }
        }
    }

    /// Decodes a token's plaintext (after unprotect).
    ///
    /// # Errors
    /// [`AntiforgeryTokenError`] for anything else than exactly one token.
    pub fn decode(bytes: &[u8]) -> Result<Self, AntiforgeryTokenError> {
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != TOKEN_VERSION {
            return Err(AntiforgeryTokenError::Version(version));
        }
        let mut security_token = [0u8; 16];
        security_token.copy_from_slice(r.bytes(16)?);
        let token = if r.bool()? {
            Self::Cookie { security_token }
        } else {
            let user = if r.bool()? {
                let mut uid = [0u8; 32];
                uid.copy_from_slice(r.bytes(32)?);
                TokenUser::ClaimUid(uid)
            } else {
                TokenUser::Username(r.string()?)
            };
            Self::Request {
                security_token,
                user,
                additional_data: r.string()?,
            }
        };
        r.finish()?;
        Ok(token)
    }

    /// Encodes as ASP.NET's serializer does.
    ///
    /// # Errors
    /// [`AntiforgeryTokenError::TooLarge`] for a string above `i32::MAX` bytes.
    pub fn encode(&self) -> Result<Vec<u8>, AntiforgeryTokenError> {
        let mut w = Writer::default();
        w.out.push(TOKEN_VERSION);
        w.bytes(self.security_token());
        match self {
            Self::Cookie { .. } => w.bool(true),
            Self::Request {
                user,
                additional_data,
                ..
            } => {
                w.bool(false);
                match user {
                    TokenUser::ClaimUid(uid) => {
                        w.bool(true);
                        w.bytes(uid);
                    }
                    TokenUser::Username(name) => {
                        w.bool(false);
                        w.string(name)?;
                    }
                }
                w.string(additional_data)?;
            }
        }
        Ok(w.out)
    }
}

/// Why a token pair does not validate (ASP.NET's reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AntiforgeryMismatch {
    /// The cookie token is a request token or the other way round.
    #[error("the antiforgery cookie and request tokens were swapped")]
    Swapped,
    /// The security tokens differ.
    #[error("the antiforgery cookie token and request token do not match")]
    SecurityToken,
    /// The request token was issued to another user name.
    #[error("the antiforgery request token was meant for another user")]
    Username,
    /// The request token was issued to another claims-based user.
    #[error("the antiforgery request token was meant for another claims-based user")]
    ClaimUid,
    /// The additional data was rejected by the caller's check.
    #[error("the antiforgery request token's additional data was rejected")]
    AdditionalData,
}

/// The current user as antiforgery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CurrentUser {
    /// No authenticated identity.
    Anonymous,
    /// An authenticated user whose identities give a claim uid.
    ClaimUid([u8; 32]),
    /// An authenticated user without identifying claims: the identity's name.
    Username(String),
}

impl CurrentUser {
    /// What ASP.NET derives from a principal's identities: the claim uid if any
    /// authenticated identity has claims, else the first authenticated identity's name.
    pub fn from_identities(identities: &[ClaimsIdentity]) -> Self {
        let Some(first) = identities.iter().find(|i| i.is_authenticated()) else {
            return Self::Anonymous;
        };
        match claim_uid(identities) {
            Some(uid) => Self::ClaimUid(uid),
            None => Self::Username(first.name().unwrap_or("").to_owned()),
        }
    }
}

/// `DefaultClaimUidExtractor`: SHA-256 over .NET strings (type, value, issuer) of the first
/// authenticated identity's `sub`, name identifier or UPN claim, else of every claim of
/// every authenticated identity sorted by type. `None` without authenticated claims.
pub fn claim_uid(identities: &[ClaimsIdentity]) -> Option<[u8; 32]> {
    let authenticated = || identities.iter().filter(|i| i.is_authenticated());
    let mut picked = None;
    'outer: for identity in authenticated() {
        for wanted in ["sub", NAME_IDENTIFIER, UPN] {
            if let Some(c) = identity
                .claims
                .iter()
                .find(|c| c.claim_type == wanted)
                .filter(|c| !c.value.is_empty())
            {
                picked = Some(vec![c]);
                break 'outer;
            }
        }
    }
    let claims = match picked {
        Some(c) => c,
        None => {
            let mut all: Vec<_> = authenticated().flat_map(|i| i.claims.iter()).collect();
            if all.is_empty() {
                return None;
            }
            all.sort_by(|a, b| a.claim_type.cmp(&b.claim_type));
            all
        }
    };
    let mut w = Writer::default();
    for c in claims {
        for s in [&c.claim_type, &c.value, &c.issuer] {
            w.string(s).ok()?;
        }
    }
    Some(Sha256::digest(&w.out).into())
}

/// Checks a cookie token and a request token as ASP.NET does; `additional_data` judges the
/// request token's additional data (pass `|_| true` to accept any).
///
/// # Errors
/// The first [`AntiforgeryMismatch`] found.
pub fn validate_pair(
    cookie: &AntiforgeryToken,
    request: &AntiforgeryToken,
    user: &CurrentUser,
    additional_data: impl FnOnce(&str) -> bool,
) -> Result<(), AntiforgeryMismatch> {
    let (
        AntiforgeryToken::Cookie { security_token: a },
        AntiforgeryToken::Request {
            security_token: b,
            user: token_user,
            additional_data: data,
        },
    ) = (cookie, request)
    else {
        return Err(AntiforgeryMismatch::Swapped);
    };
    if !bool::from(a.ct_eq(b)) {
        return Err(AntiforgeryMismatch::SecurityToken);
    }
    let (expected_name, expected_uid) = match user {
        CurrentUser::Anonymous => ("", None),
        CurrentUser::ClaimUid(uid) => ("", Some(uid)),
        CurrentUser::Username(name) => (name.as_str(), None),
    };
    let (token_name, token_uid) = match token_user {
        TokenUser::ClaimUid(uid) => ("", Some(uid)),
        TokenUser::Username(name) => (name.as_str(), None),
    };
    // URLs (OpenID names; the prefix in any case, as .NET checks it) compare exactly, other
    // names ignoring ASCII case. .NET's OrdinalIgnoreCase also folds some non-ASCII
    // letters; those must match exactly here (stricter, never looser: Unicode lower-casing
    // would equate names .NET keeps apart, such as the Kelvin sign and `k`).
    let has_prefix = |p: &str| {
        expected_name
            .get(..p.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(p))
    };
    let names_match = if has_prefix("http://") || has_prefix("https://") {
        token_name == expected_name
    } else {
        token_name.eq_ignore_ascii_case(expected_name)
    };
    if !names_match {
        return Err(AntiforgeryMismatch::Username);
    }
    let uids_match = match (token_uid, expected_uid) {
        (None, None) => true,
        (Some(x), Some(y)) => bool::from(x.ct_eq(y)),
        _ => false,
    };
    if !uids_match {
        return Err(AntiforgeryMismatch::ClaimUid);
    }
    if !additional_data(data) {
        return Err(AntiforgeryMismatch::AdditionalData);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie_formats::ticket::Claim;

    #[test]
    fn cookie_name_matches_the_spec_example() {
        assert_eq!(cookie_name("MyApp"), ".AspNetCore.Antiforgery.TeM5zmpk18g");
    }

    #[test]
    fn tokens_round_trip_and_reject_hostile_input() {
        let cookie = AntiforgeryToken::Cookie {
            security_token: [7; 16],
        };
        let request = AntiforgeryToken::Request {
            security_token: [7; 16],
            user: TokenUser::Username("Alice".into()),
            additional_data: String::new(),
        };
        for t in [&cookie, &request] {
            let bytes = t.encode().unwrap();
            assert_eq!(&AntiforgeryToken::decode(&bytes).unwrap(), t);
            for n in 0..bytes.len() {
                assert!(AntiforgeryToken::decode(&bytes[..n]).is_err());
            }
            let mut more = bytes.clone();
            more.push(0);
            assert_eq!(
                AntiforgeryToken::decode(&more),
                Err(AntiforgeryTokenError::Binary(BinaryError::TrailingBytes))
            );
            let mut v2 = bytes;
            v2[0] = 2;
            assert_eq!(
                AntiforgeryToken::decode(&v2),
                Err(AntiforgeryTokenError::Version(2))
            );
        }
        let user = CurrentUser::Username("alice".into());
        assert_eq!(validate_pair(&cookie, &request, &user, |_| true), Ok(()));
        assert_eq!(
            validate_pair(&request, &cookie, &user, |_| true),
            Err(AntiforgeryMismatch::Swapped)
        );
        assert_eq!(
            validate_pair(&cookie, &request, &CurrentUser::Anonymous, |_| true),
            Err(AntiforgeryMismatch::Username)
        );
        let other = AntiforgeryToken::Cookie {
            security_token: [8; 16],
        };
        assert_eq!(
            validate_pair(&other, &request, &user, |_| true),
            Err(AntiforgeryMismatch::SecurityToken)
        );
        assert_eq!(
            validate_pair(&cookie, &request, &user, |_| false),
            Err(AntiforgeryMismatch::AdditionalData)
        );
    }

    #[test]
    fn user_names_compare_as_dotnet_does_or_stricter() {
        let cookie = AntiforgeryToken::Cookie {
            security_token: [7; 16],
        };
        let issued_to = |name: &str| AntiforgeryToken::Request {
            security_token: [7; 16],
            user: TokenUser::Username(name.into()),
            additional_data: String::new(),
        };
        let check = |token: &str, user: &str| {
            validate_pair(
                &cookie,
                &issued_to(token),
                &CurrentUser::Username(user.into()),
                |_| true,
            )
        };
        assert_eq!(check("ALICE", "alice"), Ok(()), "ASCII case is ignored");
        // .NET treats a name starting with http:// or https:// in any case as a URL and
        // compares it exactly.
        assert_eq!(
            check("HTTP://id.example/Alice", "HTTP://id.example/alice"),
            Err(AntiforgeryMismatch::Username)
        );
        assert_eq!(
            check("https://id.example/Alice", "Https://id.example/alice"),
            Err(AntiforgeryMismatch::Username)
        );
        // Unicode lower-casing folds characters .NET keeps apart: the Kelvin sign is not
        // `k`, and `i` + combining dot is not `İ`.
        assert_eq!(
            check("\u{212A}evin", "kevin"),
            Err(AntiforgeryMismatch::Username)
        );
        assert_eq!(
            check("i\u{307}lker", "\u{130}lker"),
            Err(AntiforgeryMismatch::Username)
        );
    }

    #[test]
    fn claim_uid_prefers_sub_then_falls_back_to_all_claims() {
        let with_sub = ClaimsIdentity::new("Cookies")
            .with_name("alice")
            .with_claim(Claim::new("sub", "42"));
        let only_sub = ClaimsIdentity::new("Cookies").with_claim(Claim::new("sub", "42"));
        assert_eq!(
            claim_uid(std::slice::from_ref(&with_sub)),
            claim_uid(&[only_sub])
        );
        let name_only = ClaimsIdentity::new("Cookies").with_name("alice");
        assert!(claim_uid(std::slice::from_ref(&name_only)).is_some());
        assert_ne!(claim_uid(&[name_only]), claim_uid(&[with_sub]));
        assert_eq!(claim_uid(&[ClaimsIdentity::new("")]), None);
        assert_eq!(
            CurrentUser::from_identities(&[ClaimsIdentity::new("").with_name("x")]),
            CurrentUser::Anonymous
        );
    }
}
