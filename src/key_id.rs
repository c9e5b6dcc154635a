//! Key identifiers.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// The identifier of a key: a GUID, written in XML and file names in the lowercase hyphenated
/// form, and in payloads as 16 bytes in .NET `Guid` byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Uuid);

impl KeyId {
    /// A fresh random (version 4) id.
    pub fn new_random(random: &dyn crate::random::RandomSource) -> Self {
        let mut bytes = [0u8; 16];
        random.fill(&mut bytes);
        Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// Wraps a UUID.
    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    /// The UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The 16 bytes as .NET's `Guid.ToByteArray()` writes them (first three groups
    /// little-endian), as found in protected payloads.
    pub fn to_guid_bytes(&self) -> [u8; 16] {
        self.0.to_bytes_le()
    }

    /// Reads 16 bytes in .NET `Guid` byte order.
    pub fn from_guid_bytes(bytes: [u8; 16]) -> Self {
        Self(Uuid::from_bytes_le(bytes))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0.hyphenated())
    }
}

/// The text could not be read as a GUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a GUID")]
pub struct KeyIdParseError(String);

impl FromStr for KeyId {
    type Err = KeyIdParseError;

    /// Accepts the forms .NET's `Guid.Parse` accepts in practice: `D` (hyphenated), `N`
    /// (32 digits), `B` (`{…}`) and `P` (`(…)`), in either case, with surrounding
    /// whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let inner = t
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(t);
        Uuid::parse_str(inner)
            .ok()
            .filter(|_| !inner.starts_with("urn:"))
            .map(Self)
            .ok_or_else(|| KeyIdParseError(s.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_byte_order_matches_dotnet() {
        let id: KeyId = "ba73c9ce-d322-4e45-af90-341307e11c38".parse().unwrap();
        assert_eq!(
            hex::encode(id.to_guid_bytes()),
            "cec973ba22d3454eaf90341307e11c38"
        );
        assert_eq!(KeyId::from_guid_bytes(id.to_guid_bytes()), id);
    }

    #[test]
    fn parses_every_dotnet_text_form() {
        let d: KeyId = "0f8fad5b-d9cb-469f-a165-70867728950e".parse().unwrap();
        for form in [
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5bd9cb469fa16570867728950e",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "(0f8fad5b-d9cb-469f-a165-70867728950e)",
            "  0f8fad5b-d9cb-469f-a165-70867728950e\n",
        ] {
            assert_eq!(form.parse::<KeyId>().unwrap(), d, "{form}");
        }
        assert!("*".parse::<KeyId>().is_err());
        assert!(
            "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e"
                .parse::<KeyId>()
                .is_err()
        );
        assert_eq!(d.to_string(), "0f8fad5b-d9cb-469f-a165-70867728950e");
    }
}
