//! ASP.NET Core's `AuthenticationTicket` in `TicketSerializer` format 5, the plaintext of a
//! cookie-authentication cookie (`.AspNetCore.Cookies`).
//!
//! ```text
//! i32 5 | string scheme | i32 identityCount | identity* | properties
//! identity   := string authType ("" for none) | stringD nameClaimType | stringD roleClaimType
//!               | i32 claimCount | claim* | bool hasBootstrap [string] | bool hasActor [identity]
//! claim      := stringD type (default: the identity's name claim type) | string value
//!               | stringD valueType (xsd string) | stringD issuer ("LOCAL AUTHORITY")
//!               | stringD originalIssuer (= issuer) | i32 count | (string key, string value)*
//! properties := i32 1 | i32 count | (string key, string value)*
//! ```
//!
//! Integers are little-endian; strings are .NET `BinaryWriter` strings (7-bit length, UTF-8);
//! `stringD` is the one-character string `"\0"` when the value equals its default.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

use super::binary::{BinaryError, Reader, TooLarge, Writer};

/// The `TicketSerializer` format version this module reads and writes.
pub const FORMAT_VERSION: i32 = 5;
/// The `PropertiesSerializer` format version.
pub const PROPERTIES_VERSION: i32 = 1;
/// `ClaimsIdentity.DefaultNameClaimType`.
pub const DEFAULT_NAME_CLAIM_TYPE: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
/// `ClaimsIdentity.DefaultRoleClaimType`.
pub const DEFAULT_ROLE_CLAIM_TYPE: &str =
    "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
/// `ClaimValueTypes.String`.
pub const DEFAULT_VALUE_TYPE: &str = "http://www.w3.org/2001/XMLSchema#string";
/// `ClaimsIdentity.DefaultIssuer`.
pub const DEFAULT_ISSUER: &str = "LOCAL AUTHORITY";
/// Property key of the issue time (RFC 1123 date).
pub const ISSUED_KEY: &str = ".issued";
/// Property key of the expiry time (RFC 1123 date).
pub const EXPIRES_KEY: &str = ".expires";
/// Property key present (with an empty value) when the cookie is persistent.
pub const PERSISTENT_KEY: &str = ".persistent";
/// Property key of "allow refresh" (`True` or `False`).
pub const REFRESH_KEY: &str = ".refresh";
/// Property key of the redirect URI.
pub const REDIRECT_KEY: &str = ".redirect";
/// How deeply actors may nest before a ticket is rejected (.NET sets no limit; a ticket
/// nesting this deep is hostile).
pub const MAX_ACTOR_DEPTH: usize = 16;

/// `"\0"`: a `stringD` field equal to its default.
const DEFAULT_PLACEHOLDER: &str = "\0";
/// The smallest encoded claim: six one-byte strings and a count.
const MIN_CLAIM_LEN: usize = 10;
/// The smallest encoded identity: three strings, a count and two bools.
const MIN_IDENTITY_LEN: usize = 9;
/// .NET's `"r"` format.
const RFC1123: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

/// Why bytes are not a format-5 ticket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TicketError {
    /// The ticket does not start with format version 5 (.NET returns no ticket).
    #[error("unsupported ticket format version {0}")]
    Version(i32),
    /// The properties do not have version 1.
    #[error("unsupported properties version {0}")]
    PropertiesVersion(i32),
    /// A count is negative.
    #[error("a count in the ticket is negative")]
    NegativeCount,
    /// Actors nest deeper than [`MAX_ACTOR_DEPTH`].
    #[error("actors nest deeper than {MAX_ACTOR_DEPTH}")]
    TooDeep,
    /// A primitive could not be read: truncated, bad length, bad UTF-8, trailing bytes.
    #[error("malformed ticket: {0}")]
    Binary(#[from] BinaryError),
    /// A value is too large to encode (above `i32::MAX` bytes or items).
    #[error("a ticket value is too large to encode")]
    TooLarge,
}

impl From<TooLarge> for TicketError {
    fn from(_: TooLarge) -> Self {
        TicketError::TooLarge
    }
}

/// A claim: type, value, and where it came from. `Debug` shows the value's length, not the
/// value (claims carry personal data, and some apps keep tokens in them).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Claim {
    /// The claim type (a URI or a short name such as `sub`).
    pub claim_type: String,
    /// The value.
    pub value: String,
    /// The value type (default [`DEFAULT_VALUE_TYPE`]).
    pub value_type: String,
    /// The issuer (default [`DEFAULT_ISSUER`]).
    pub issuer: String,
    /// The original issuer (default: the issuer).
    pub original_issuer: String,
    /// Extra properties, in order.
    pub properties: Vec<(String, String)>,
}

impl std::fmt::Debug for Claim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let property_names: Vec<&str> = self.properties.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Claim")
            .field("claim_type", &self.claim_type)
            .field(
                "value",
                &format_args!("[{} chars]", self.value.chars().count()),
            )
            .field("value_type", &self.value_type)
            .field("issuer", &self.issuer)
            .field("original_issuer", &self.original_issuer)
            .field("properties", &property_names)
            .finish()
    }
}

impl Claim {
    /// A claim with the default value type and issuer and no properties.
    pub fn new(claim_type: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            claim_type: claim_type.into(),
            value: value.into(),
            value_type: DEFAULT_VALUE_TYPE.to_owned(),
            issuer: DEFAULT_ISSUER.to_owned(),
            original_issuer: DEFAULT_ISSUER.to_owned(),
            properties: Vec::new(),
        }
    }

    /// Sets the value type.
    pub fn with_value_type(mut self, value_type: impl Into<String>) -> Self {
        self.value_type = value_type.into();
        self
    }

    /// Sets the issuer and the original issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self.original_issuer = self.issuer.clone();
        self
    }

    /// Sets the original issuer only.
    pub fn with_original_issuer(mut self, original_issuer: impl Into<String>) -> Self {
        self.original_issuer = original_issuer.into();
        self
    }

    /// Adds a property.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.push((key.into(), value.into()));
        self
    }
}

/// A `ClaimsIdentity`: the claims one authentication produced.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimsIdentity {
    /// The authentication type (`None` when empty; such an identity is not authenticated).
    pub authentication_type: Option<String>,
    /// The claim type that holds the name.
    pub name_claim_type: String,
    /// The claim type that holds roles.
    pub role_claim_type: String,
    /// The claims, in order.
    pub claims: Vec<Claim>,
    /// The bootstrap context (a token string), if any. Not shown by `Debug`.
    pub bootstrap_context: Option<String>,
    /// The identity acting on behalf of this one.
    pub actor: Option<Box<ClaimsIdentity>>,
}

impl fmt::Debug for ClaimsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimsIdentity")
            .field("authentication_type", &self.authentication_type)
            .field("name_claim_type", &self.name_claim_type)
            .field("role_claim_type", &self.role_claim_type)
            .field("claims", &self.claims)
            .field(
                "bootstrap_context",
                &self.bootstrap_context.as_ref().map(|_| "[redacted]"),
            )
            .field("actor", &self.actor)
            .finish()
    }
}

impl ClaimsIdentity {
    /// An identity with the given authentication type (ASP.NET cookie sign-ins usually use
    /// the scheme, e.g. `Cookies`), default name and role claim types, and no claims.
    pub fn new(authentication_type: impl Into<String>) -> Self {
        let t: String = authentication_type.into();
        Self {
            authentication_type: (!t.is_empty()).then_some(t),
            name_claim_type: DEFAULT_NAME_CLAIM_TYPE.to_owned(),
            role_claim_type: DEFAULT_ROLE_CLAIM_TYPE.to_owned(),
            claims: Vec::new(),
            bootstrap_context: None,
            actor: None,
        }
    }

    /// Adds a claim.
    pub fn with_claim(mut self, claim: Claim) -> Self {
        self.claims.push(claim);
        self
    }

    /// Adds a name claim (of this identity's name claim type).
    pub fn with_name(self, name: impl Into<String>) -> Self {
        let t = self.name_claim_type.clone();
        self.with_claim(Claim::new(t, name))
    }

    /// Adds a role claim (of this identity's role claim type).
    pub fn with_role(self, role: impl Into<String>) -> Self {
        let t = self.role_claim_type.clone();
        self.with_claim(Claim::new(t, role))
    }

    /// Whether the identity is authenticated (it has an authentication type).
    pub fn is_authenticated(&self) -> bool {
        self.authentication_type.is_some()
    }

    /// The value of the first name claim.
    pub fn name(&self) -> Option<&str> {
        self.find_first(&self.name_claim_type)
    }

    /// The value of the first claim of `claim_type`.
    pub fn find_first(&self, claim_type: &str) -> Option<&str> {
        self.claims
            .iter()
            .find(|c| c.claim_type == claim_type)
            .map(|c| c.value.as_str())
    }

    /// The role claim values.
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.claims
            .iter()
            .filter(|c| c.claim_type == self.role_claim_type)
            .map(|c| c.value.as_str())
    }
}

/// `AuthenticationProperties`: string items, some with well-known meanings. `Debug` shows
/// every key but only the values of [`ISSUED_KEY`], [`EXPIRES_KEY`], [`PERSISTENT_KEY`],
/// [`REFRESH_KEY`] and [`REDIRECT_KEY`]: other items can be secrets (ASP.NET's `SaveTokens`
/// keeps access and refresh tokens under `.Token.*`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthenticationProperties {
    items: Vec<(String, String)>,
}

impl fmt::Debug for AuthenticationProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: [&str; 5] = [
            ISSUED_KEY,
            EXPIRES_KEY,
            PERSISTENT_KEY,
            REFRESH_KEY,
            REDIRECT_KEY,
        ];
        let mut m = f.debug_map();
        for (k, v) in &self.items {
            if SHOWN.contains(&k.as_str()) {
                m.entry(k, v);
            } else {
                m.entry(k, &format_args!("[redacted]"));
            }
        }
        m.finish()
    }
}

impl AuthenticationProperties {
    /// No items.
    pub fn new() -> Self {
        Self::default()
    }

    /// The items, in order.
    pub fn items(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The item `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` (in place if present).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        let value = value.into();
        match self.items.iter_mut().find(|(k, _)| k == key) {
            Some(item) => item.1 = value,
            None => self.items.push((key.to_owned(), value)),
        }
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.items.len();
        self.items.retain(|(k, _)| k != key);
        before != self.items.len()
    }

    /// `.issued`, when present and a valid RFC 1123 date.
    pub fn issued_utc(&self) -> Option<OffsetDateTime> {
        self.get(ISSUED_KEY).and_then(parse_rfc1123)
    }

    /// Sets or removes `.issued` (whole seconds, as .NET's `"r"` format keeps).
    pub fn set_issued_utc(&mut self, at: Option<OffsetDateTime>) {
        self.set_date(ISSUED_KEY, at);
    }

    /// `.expires`, when present and a valid RFC 1123 date.
    pub fn expires_utc(&self) -> Option<OffsetDateTime> {
        self.get(EXPIRES_KEY).and_then(parse_rfc1123)
    }

    /// Sets or removes `.expires`.
    pub fn set_expires_utc(&mut self, at: Option<OffsetDateTime>) {
        self.set_date(EXPIRES_KEY, at);
    }

    /// Whether `.persistent` is present (the cookie outlives the browser session).
    pub fn is_persistent(&self) -> bool {
        self.get(PERSISTENT_KEY).is_some()
    }

    /// Sets or removes `.persistent`.
    pub fn set_persistent(&mut self, persistent: bool) {
        if persistent {
            self.set(PERSISTENT_KEY, "");
        } else {
            self.remove(PERSISTENT_KEY);
        }
    }

    /// `.refresh` (`AllowRefresh`): `None` when absent or not `True`/`False`.
    pub fn allow_refresh(&self) -> Option<bool> {
        let v = self.get(REFRESH_KEY)?;
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            None
        }
    }

    /// Sets or removes `.refresh`.
    pub fn set_allow_refresh(&mut self, allow: Option<bool>) {
        match allow {
            Some(true) => self.set(REFRESH_KEY, "True"),
            Some(false) => self.set(REFRESH_KEY, "False"),
            None => {
                self.remove(REFRESH_KEY);
            }
        }
    }

    /// `.redirect`.
    pub fn redirect_uri(&self) -> Option<&str> {
        self.get(REDIRECT_KEY)
    }

    fn set_date(&mut self, key: &str, at: Option<OffsetDateTime>) {
        match at.and_then(format_rfc1123) {
            Some(text) => self.set(key, text),
            None => {
                self.remove(key);
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, TicketError> {
        let version = r.i32()?;
        if version != PROPERTIES_VERSION {
            return Err(TicketError::PropertiesVersion(version));
        }
        let count = r.count()?.ok_or(TicketError::NegativeCount)?;
        let mut props = Self {
            items: Vec::with_capacity(count.min(r.remaining() / 2)),
        };
        for _ in 0..count {
            let key = r.string()?;
            let value = r.string()?;
            // .NET reads into a dictionary: the last duplicate wins.
            props.set(&key, value);
        }
        Ok(props)
    }

    fn write(&self, w: &mut Writer) -> Result<(), TicketError> {
        w.i32(PROPERTIES_VERSION);
        w.count(self.items.len())?;
        for (k, v) in &self.items {
            w.string(k)?;
            w.string(v)?;
        }
        Ok(())
    }
}

/// An `AuthenticationTicket`: a principal (its identities), properties and the scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthenticationTicket {
    /// The authentication scheme (`Cookies` by default).
    pub scheme: String,
    /// The principal's identities; the first is the primary one.
    pub identities: Vec<ClaimsIdentity>,
    /// The properties (issue and expiry times, persistence, …).
    pub properties: AuthenticationProperties,
}

impl AuthenticationTicket {
    /// A ticket for one identity with no properties.
    pub fn new(scheme: impl Into<String>, identity: ClaimsIdentity) -> Self {
        Self {
            scheme: scheme.into(),
            identities: vec![identity],
            properties: AuthenticationProperties::new(),
        }
    }

    /// The primary identity's name (`ClaimsPrincipal.Identity.Name`).
    pub fn name(&self) -> Option<&str> {
        self.identities.first().and_then(ClaimsIdentity::name)
    }

    /// Every role of every identity (`IsInRole` looks at all of them).
    pub fn roles(&self) -> impl Iterator<Item = &str> {
        self.identities.iter().flat_map(ClaimsIdentity::roles)
    }

    /// Whether any identity has the role.
    pub fn is_in_role(&self, role: &str) -> bool {
        self.roles().any(|r| r == role)
    }

    /// Every claim of `claim_type`, across identities.
    pub fn claims_of_type<'a>(&'a self, claim_type: &'a str) -> impl Iterator<Item = &'a Claim> {
        self.identities
            .iter()
            .flat_map(|i| i.claims.iter())
            .filter(move |c| c.claim_type == claim_type)
    }

    /// The value of the first claim of `claim_type`, across identities.
    pub fn find_first(&self, claim_type: &str) -> Option<&str> {
        self.identities
            .iter()
            .find_map(|i| i.find_first(claim_type))
    }

    /// `.expires`.
    pub fn expires_utc(&self) -> Option<OffsetDateTime> {
        self.properties.expires_utc()
    }

    /// `.issued`.
    pub fn issued_utc(&self) -> Option<OffsetDateTime> {
        self.properties.issued_utc()
    }

    /// Whether `.expires` is present and before `now` (ASP.NET then rejects the ticket).
    pub fn is_expired_at(&self, now: OffsetDateTime) -> bool {
        self.expires_utc().is_some_and(|e| e < now)
    }

    /// Decodes a format-5 ticket. Strict: no trailing bytes, UTF-8 strings.
    ///
    /// # Errors
    /// [`TicketError`] for anything that is not a well-formed ticket.
    pub fn decode(bytes: &[u8]) -> Result<Self, TicketError> {
        let mut r = Reader::new(bytes);
        let version = r.i32()?;
        if version != FORMAT_VERSION {
            return Err(TicketError::Version(version));
        }
        let scheme = r.string()?;
        let count = r.count()?.ok_or(TicketError::NegativeCount)?;
        let mut identities = Vec::with_capacity(count.min(r.remaining() / MIN_IDENTITY_LEN));
        for _ in 0..count {
            identities.push(read_identity(&mut r, 0)?);
        }
        let properties = AuthenticationProperties::read(&mut r)?;
        r.finish()?;
        Ok(Self {
            scheme,
            identities,
            properties,
        })
    }

    /// Encodes as format 5, exactly as .NET's `TicketSerializer.Write`.
    ///
    /// # Errors
    /// [`TicketError::TooLarge`] for a value too large for the format.
    pub fn encode(&self) -> Result<Vec<u8>, TicketError> {
        let mut w = Writer::default();
        w.i32(FORMAT_VERSION);
        w.string(&self.scheme)?;
        w.count(self.identities.len())?;
        for identity in &self.identities {
            write_identity(&mut w, identity)?;
        }
        self.properties.write(&mut w)?;
        Ok(w.out)
    }
}

fn read_default(r: &mut Reader<'_>, default: &str) -> Result<String, TicketError> {
    let value = r.string()?;
    Ok(if value == DEFAULT_PLACEHOLDER {
        default.to_owned()
    } else {
        value
    })
}

fn write_default(w: &mut Writer, value: &str, default: &str) -> Result<(), TooLarge> {
    w.string(if value == default {
        DEFAULT_PLACEHOLDER
    } else {
        value
    })
}

fn read_identity(r: &mut Reader<'_>, depth: usize) -> Result<ClaimsIdentity, TicketError> {
    if depth > MAX_ACTOR_DEPTH {
        return Err(TicketError::TooDeep);
    }
    let authentication_type = r.string()?;
    let name_claim_type = read_default(r, DEFAULT_NAME_CLAIM_TYPE)?;
    let role_claim_type = read_default(r, DEFAULT_ROLE_CLAIM_TYPE)?;
    let count = r.count()?.ok_or(TicketError::NegativeCount)?;
    let mut claims = Vec::with_capacity(count.min(r.remaining() / MIN_CLAIM_LEN));
    for _ in 0..count {
        let claim_type = read_default(r, &name_claim_type)?;
        let value = r.string()?;
        let value_type = read_default(r, DEFAULT_VALUE_TYPE)?;
        let issuer = read_default(r, DEFAULT_ISSUER)?;
        let original_issuer = read_default(r, &issuer)?;
        let n = r.count()?.ok_or(TicketError::NegativeCount)?;
        let mut properties = Vec::with_capacity(n.min(r.remaining() / 2));
        for _ in 0..n {
            let key = r.string()?;
            let value = r.string()?;
            properties.push((key, value));
        }
        claims.push(Claim {
            claim_type,
            value,
            value_type,
            issuer,
            original_issuer,
            properties,
        });
    }
    // An empty bootstrap context is never written (.NET writes only non-empty strings), so
    // it reads as none.
    let bootstrap_context = if r.bool()? {
        Some(r.string()?).filter(|b| !b.is_empty())
    } else {
        None
    };
    let actor = if r.bool()? {
        Some(Box::new(read_identity(r, depth + 1)?))
    } else {
        None
    };
    Ok(ClaimsIdentity {
        authentication_type: (!authentication_type.is_empty()).then_some(authentication_type),
        name_claim_type,
        role_claim_type,
        claims,
        bootstrap_context,
        actor,
    })
}

fn write_identity(w: &mut Writer, identity: &ClaimsIdentity) -> Result<(), TicketError> {
    w.string(identity.authentication_type.as_deref().unwrap_or(""))?;
    write_default(w, &identity.name_claim_type, DEFAULT_NAME_CLAIM_TYPE)?;
    write_default(w, &identity.role_claim_type, DEFAULT_ROLE_CLAIM_TYPE)?;
    w.count(identity.claims.len())?;
    for c in &identity.claims {
        write_default(w, &c.claim_type, &identity.name_claim_type)?;
        w.string(&c.value)?;
        write_default(w, &c.value_type, DEFAULT_VALUE_TYPE)?;
        write_default(w, &c.issuer, DEFAULT_ISSUER)?;
        write_default(w, &c.original_issuer, &c.issuer)?;
        w.count(c.properties.len())?;
        for (k, v) in &c.properties {
            w.string(k)?;
            w.string(v)?;
        }
    }
    // .NET writes a bootstrap context only when it is a non-empty string.
    match identity.bootstrap_context.as_deref() {
        Some(b) if !b.is_empty() => {
            w.bool(true);
            w.string(b)?;
        }
        _ => w.bool(false),
    }
    match &identity.actor {
        Some(actor) => {
            w.bool(true);
            write_identity(w, actor)?;
        }
        None => w.bool(false),
    }
    Ok(())
}

/// Formats an instant as .NET's `"r"` format (`Sat, 01 Jan 2000 00:00:00 GMT`); `None` out
/// of the 4-digit year range.
pub fn format_rfc1123(at: OffsetDateTime) -> Option<String> {
    let utc = at.checked_to_offset(time::UtcOffset::UTC)?;
    if !(1..=9999).contains(&utc.year()) {
        return None;
    }
    utc.format(RFC1123).ok()
}

/// Parses .NET's `"r"` format exactly (`Sat, 01 Jan 2000 00:00:00 GMT`).
pub fn parse_rfc1123(text: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(text, RFC1123)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn full_ticket() -> AuthenticationTicket {
        let actor = ClaimsIdentity::new("Delegation").with_name("service");
        let mut identity = ClaimsIdentity::new("Cookies")
            .with_name("alice")
            .with_role("admin")
            .with_role("ops")
            .with_claim(
                Claim::new("sub", "42")
                    .with_value_type("http://www.w3.org/2001/XMLSchema#integer")
                    .with_issuer("https://idp.example")
                    .with_original_issuer("https://upstream.example")
                    .with_property("k", "v"),
            );
        identity.bootstrap_context = Some("token".into());
        identity.actor = Some(Box::new(actor));
        let mut other = ClaimsIdentity::new("");
        other.name_claim_type = "email".into();
        other.role_claim_type = "grp".into();
        let other = other.with_name("a@example.com").with_role("staff");
        let mut t = AuthenticationTicket::new("Cookies", identity);
        t.identities.push(other);
        t.properties
            .set_issued_utc(Some(datetime!(2024-01-01 00:00:00 UTC)));
        t.properties
            .set_expires_utc(Some(datetime!(2024-01-15 00:00:00 UTC)));
        t.properties.set_persistent(true);
        t.properties.set_allow_refresh(Some(true));
        t.properties.set(".redirect", "/home");
        t
    }

    #[test]
    fn every_field_round_trips() {
        let t = full_ticket();
        let bytes = t.encode().unwrap();
        let back = AuthenticationTicket::decode(&bytes).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.name(), Some("alice"));
        assert_eq!(back.roles().collect::<Vec<_>>(), ["admin", "ops", "staff"]);
        assert!(back.is_in_role("staff"));
        assert_eq!(back.find_first("sub"), Some("42"));
        assert_eq!(back.expires_utc(), Some(datetime!(2024-01-15 00:00:00 UTC)));
        assert_eq!(
            back.properties.get(".issued"),
            Some("Mon, 01 Jan 2024 00:00:00 GMT")
        );
        assert!(back.properties.is_persistent());
        assert_eq!(back.properties.allow_refresh(), Some(true));
        assert_eq!(back.properties.redirect_uri(), Some("/home"));
        assert!(!back.identities[1].is_authenticated());
        assert_eq!(back.identities[1].name(), Some("a@example.com"));
        assert!(back.is_expired_at(datetime!(2024-01-15 00:00:01 UTC)));
        assert!(!back.is_expired_at(datetime!(2024-01-15 00:00:00 UTC)));
    }

    #[test]
    fn defaults_are_written_as_placeholders() {
        let t =
            AuthenticationTicket::new("Cookies", ClaimsIdentity::new("Cookies").with_name("bob"));
        let bytes = t.encode().unwrap();
        // version, "Cookies", 1 identity, "Cookies", "\0", "\0", 1 claim, "\0", "bob",
        // "\0" x3, 0 properties, no bootstrap, no actor, properties v1 with 0 items.
        let mut expected = vec![5, 0, 0, 0, 7];
        expected.extend_from_slice(b"Cookies");
        expected.extend_from_slice(&[1, 0, 0, 0, 7]);
        expected.extend_from_slice(b"Cookies");
        expected.extend_from_slice(&[1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 3]);
        expected.extend_from_slice(b"bob");
        expected.extend_from_slice(&[1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn hostile_input_gives_typed_errors() {
        let good = full_ticket().encode().unwrap();
        for n in 0..good.len() {
            assert!(
                AuthenticationTicket::decode(&good[..n]).is_err(),
                "prefix {n}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(
            AuthenticationTicket::decode(&trailing),
            Err(TicketError::Binary(BinaryError::TrailingBytes))
        );
        let mut version = good.clone();
        version[0] = 4;
        assert_eq!(
            AuthenticationTicket::decode(&version),
            Err(TicketError::Version(4))
        );
        // A huge identity count with nothing behind it: an error, not a huge allocation.
        let mut huge = vec![5, 0, 0, 0, 0];
        huge.extend_from_slice(&i32::MAX.to_le_bytes());
        assert_eq!(
            AuthenticationTicket::decode(&huge),
            Err(TicketError::Binary(BinaryError::Truncated))
        );
        let mut negative = vec![5, 0, 0, 0, 0];
        negative.extend_from_slice(&(-1i32).to_le_bytes());
        assert_eq!(
            AuthenticationTicket::decode(&negative),
            Err(TicketError::NegativeCount)
        );
        let mut bad_utf8 = vec![5, 0, 0, 0, 2, 0xc3, 0x28];
        bad_utf8.extend_from_slice(&0i32.to_le_bytes());
        assert_eq!(
            AuthenticationTicket::decode(&bad_utf8),
            Err(TicketError::Binary(BinaryError::BadUtf8))
        );
    }

    #[test]
    fn debug_never_shows_saved_tokens_or_unknown_items() {
        let mut t = AuthenticationTicket::new("Cookies", ClaimsIdentity::new("Cookies"));
        let at = datetime!(2030-01-02 03:04:05 UTC);
        t.properties.set_expires_utc(Some(at));
        t.properties.set_persistent(true);
        // What ASP.NET's SaveTokens keeps in the properties.
        t.properties.set(".Token.access_token", "eyJ-ACCESS-SECRET");
        t.properties.set(".Token.refresh_token", "REFRESH-SECRET");
        t.properties
            .set(".TokenNames", "access_token;refresh_token");
        t.properties.set("app.custom", "CUSTOM-VALUE");
        let shown = format!("{t:?} {:?}", t.properties);
        for secret in ["ACCESS-SECRET", "REFRESH-SECRET", "CUSTOM-VALUE"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // Keys and the well-known items stay readable.
        assert!(shown.contains(".Token.access_token"), "{shown}");
        assert!(shown.contains("Wed, 02 Jan 2030 03:04:05 GMT"), "{shown}");
        assert!(shown.contains(".persistent"), "{shown}");
    }

    #[test]
    fn debug_never_shows_claim_values() {
        let mut identity = ClaimsIdentity::new("Cookies");
        identity
            .claims
            .push(Claim::new("email", "alice@example.com").with_property("src", "PROP-VALUE"));
        identity
            .claims
            .push(Claim::new("access_token", "TOKEN-SECRET"));
        let t = AuthenticationTicket::new("Cookies", identity);
        let shown = format!("{t:?}");
        for secret in ["alice@example.com", "TOKEN-SECRET", "PROP-VALUE"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("\"email\"") && shown.contains("[17 chars]"),
            "{shown}"
        );
        assert!(shown.contains("\"src\""), "{shown}");
    }

    #[test]
    fn an_empty_bootstrap_context_reads_as_none() {
        // Found by the fuzzer: hasBootstrap with "" must survive a round trip.
        let mut t = AuthenticationTicket::new("s", ClaimsIdentity::new("a"));
        let mut bytes = t.encode().unwrap();
        // identity: "a" (2), "\0" x2 (4), count (4), then hasBootstrap at offset 5+2+4+2+4.
        let at = 4 + 2 + 4 + 2 + 4 + 4;
        assert_eq!(bytes[at], 0);
        bytes[at] = 1;
        bytes.insert(at + 1, 0);
        let back = AuthenticationTicket::decode(&bytes).unwrap();
        assert_eq!(back.identities[0].bootstrap_context, None);
        t.identities[0].bootstrap_context = Some(String::new());
        assert_eq!(
            AuthenticationTicket::decode(&t.encode().unwrap()).unwrap(),
            back
        );
    }

    #[test]
    fn deep_actor_chains_are_rejected() {
        let mut identity = ClaimsIdentity::new("a");
        for _ in 0..=MAX_ACTOR_DEPTH {
            let mut outer = ClaimsIdentity::new("a");
            outer.actor = Some(Box::new(identity));
            identity = outer;
        }
        let bytes = AuthenticationTicket::new("s", identity).encode().unwrap();
        assert_eq!(
            AuthenticationTicket::decode(&bytes),
            Err(TicketError::TooDeep)
        );
    }

    #[test]
    fn rfc1123_is_dotnets_r_format() {
        let at = datetime!(2000-01-01 00:00:00 UTC);
        assert_eq!(
            format_rfc1123(at).as_deref(),
            Some("Sat, 01 Jan 2000 00:00:00 GMT")
        );
        assert_eq!(parse_rfc1123("Sat, 01 Jan 2000 00:00:00 GMT"), Some(at));
        assert_eq!(parse_rfc1123("Sat, 01 Jan 2000 00:00:00 UTC"), None);
        assert_eq!(parse_rfc1123("2000-01-01T00:00:00Z"), None);
    }
}
