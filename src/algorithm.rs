//! The nine built-in authenticated-encryption configurations of ASP.NET Core.

use std::fmt;

/// The symmetric cipher, named as in ASP.NET Core's `EncryptionAlgorithm` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncryptionAlgorithm {
    /// AES-128 in CBC mode, authenticated with HMAC.
    Aes128Cbc,
    /// AES-192 in CBC mode, authenticated with HMAC.
    Aes192Cbc,
    /// AES-256 in CBC mode, authenticated with HMAC (ASP.NET Core's default).
    Aes256Cbc,
    /// AES-128 in Galois/Counter Mode.
    Aes128Gcm,
    /// AES-192 in Galois/Counter Mode.
    Aes192Gcm,
    /// AES-256 in Galois/Counter Mode.
    Aes256Gcm,
}

impl EncryptionAlgorithm {
    /// Every algorithm.
    pub const ALL: [Self; 6] = [
        Self::Aes128Cbc,
        Self::Aes192Cbc,
        Self::Aes256Cbc,
        Self::Aes128Gcm,
        Self::Aes192Gcm,
        Self::Aes256Gcm,
    ];

    /// The name in key XML (`AES_256_CBC`, …).
    pub fn xml_name(self) -> &'static str {
        match self {
            Self::Aes128Cbc => "AES_128_CBC",
            Self::Aes192Cbc => "AES_192_CBC",
            Self::Aes256Cbc => "AES_256_CBC",
            Self::Aes128Gcm => "AES_128_GCM",
            Self::Aes192Gcm => "AES_192_GCM",
            Self::Aes256Gcm => "AES_256_GCM",
        }
    }

    /// Reads the XML name, or the enum's decimal value (which .NET also accepts).
    pub fn from_xml_name(name: &str) -> Option<Self> {
        let by_number = name.trim().parse::<usize>().ok();
        Self::ALL
            .into_iter()
            .enumerate()
            .find(|(i, a)| a.xml_name() == name || by_number == Some(*i))
            .map(|(_, a)| a)
    }

    /// AES key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128Cbc | Self::Aes128Gcm => 16,
            Self::Aes192Cbc | Self::Aes192Gcm => 24,
            Self::Aes256Cbc | Self::Aes256Gcm => 32,
        }
    }

    /// Whether this is a GCM (self-authenticating) algorithm.
    pub fn is_gcm(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes192Gcm | Self::Aes256Gcm)
    }
}

/// The MAC used with the CBC algorithms, named as in ASP.NET Core's `ValidationAlgorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValidationAlgorithm {
    /// HMAC-SHA256 (32-byte tag).
    HmacSha256,
    /// HMAC-SHA512 (64-byte tag).
    HmacSha512,
}

impl ValidationAlgorithm {
    /// The name in key XML.
    pub fn xml_name(self) -> &'static str {
        match self {
            Self::HmacSha256 => "HMACSHA256",
            Self::HmacSha512 => "HMACSHA512",
        }
    }

    /// Reads the XML name (or the enum's decimal value).
    pub fn from_xml_name(name: &str) -> Option<Self> {
        match name.trim() {
            "HMACSHA256" | "0" => Some(Self::HmacSha256),
            "HMACSHA512" | "1" => Some(Self::HmacSha512),
            _ => None,
        }
    }

    /// Digest (and MAC key) length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::HmacSha256 => 32,
            Self::HmacSha512 => 64,
        }
    }
}

/// An authenticated-encryption configuration: a cipher, plus a MAC for the CBC ciphers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Algorithm {
    encryption: EncryptionAlgorithm,
    validation: Option<ValidationAlgorithm>,
}

impl Algorithm {
    /// AES-256-CBC with HMAC-SHA256: ASP.NET Core's default and this crate's.
    pub const AES_256_CBC_HMACSHA256: Self = Self {
        encryption: EncryptionAlgorithm::Aes256Cbc,
        validation: Some(ValidationAlgorithm::HmacSha256),
    };
    /// AES-256-GCM.
    pub const AES_256_GCM: Self = Self {
        encryption: EncryptionAlgorithm::Aes256Gcm,
        validation: None,
    };

    /// A configuration. The validation algorithm is ignored for GCM ciphers.
    pub fn new(encryption: EncryptionAlgorithm, validation: ValidationAlgorithm) -> Self {
        Self {
            encryption,
            validation: (!encryption.is_gcm()).then_some(validation),
        }
    }

    /// The nine distinct built-in configurations.
    pub fn all() -> impl Iterator<Item = Self> {
        EncryptionAlgorithm::ALL.into_iter().flat_map(|e| {
            let macs: &[ValidationAlgorithm] = if e.is_gcm() {
                &[ValidationAlgorithm::HmacSha256]
            } else {
                &[
                    ValidationAlgorithm::HmacSha256,
                    ValidationAlgorithm::HmacSha512,
                ]
            };
            macs.iter().map(move |v| Self::new(e, *v))
        })
    }

    /// The cipher.
    pub fn encryption(&self) -> EncryptionAlgorithm {
        self.encryption
    }

    /// The MAC, `None` for GCM.
    pub fn validation(&self) -> Option<ValidationAlgorithm> {
        self.validation
    }
}

impl Default for Algorithm {
    fn default() -> Self {
        Self::AES_256_CBC_HMACSHA256
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encryption.xml_name())?;
        if let Some(v) = self.validation {
            write!(f, "+{}", v.xml_name())?;
        }
        Ok(())
    }
}
