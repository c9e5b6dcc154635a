//! X.509 certificates with RSA keys, loaded from PEM or PKCS#12, for encrypting master keys
//! as ASP.NET Core's `ProtectKeysWithCertificate` does.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, PrivateDecryptingKey, PublicEncryptingKey};
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha1::{Digest, Sha1};
use x509_cert::der::{Decode, Encode};
use zeroize::Zeroizing;

/// `rsaEncryption`.
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// `rsaEncryption`, DER-encoded as an OBJECT IDENTIFIER.
const RSA_ENCRYPTION_OID: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// An X.509 certificate with an RSA public key and, to decrypt, its private key. Cheap to
/// clone. The private key lives in aws-lc (wiped when freed) and never prints.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Inner>,
}

struct Inner {
    der: Vec<u8>,
    thumbprint: String,
    subject: String,
    public_key: PublicEncryptingKey,
    private_key: Option<PrivateDecryptingKey>,
}

/// A certificate or its private key could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No PEM section of the expected kind (`CERTIFICATE`, `PRIVATE KEY`, `RSA PRIVATE
    /// KEY`), or broken PEM.
    #[error("no valid PEM {what}: {source}")]
    Pem {
        /// What was looked for.
        what: &'static str,
        /// The PEM parser's error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate is not valid DER X.509.
    #[error("invalid X.509 certificate: {0}")]
    BadCertificate(#[source] x509_cert::der::Error),
    /// The certificate's or the private key's algorithm is not RSA (only RSA certificates
    /// can encrypt keys, as in ASP.NET Core).
    #[error("the certificate or private key is not RSA")]
    NotRsa,
    /// The private key could not be parsed, or is an RSA key aws-lc refuses (for example
    /// shorter than 2048 bits).
    #[error("invalid RSA private key ({0})")]
    BadPrivateKey(String),
    /// The private key does not belong to the certificate.
    #[error("the private key does not match the certificate {thumbprint}")]
    KeyMismatch {
        /// The certificate's thumbprint.
        thumbprint: String,
    },
    /// The PKCS#12 password is wrong (its integrity check failed).
    #[error("wrong PKCS#12 password")]
    WrongPassword,
    /// The PKCS#12 file holds no private key with a certificate.
    #[error("the PKCS#12 file holds no private key with its certificate")]
    NoPrivateKey,
    /// The PKCS#12 file could not be read.
    #[error("invalid PKCS#12 file: {0}")]
    Pkcs12(#[source] p12_keystore::error::Error),
}

impl Certificate {
    /// A certificate and its private key from PEM files (the certificate first if both are
    /// in one file; the key as PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
    ///
    /// # Errors
    /// A file cannot be read, holds no certificate or key, or they do not match.
    pub fn from_pem_files(
        certificate: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Result<Self, CertificateError> {
        let cert = read(certificate.as_ref())?;
        let key = read(private_key.as_ref())?;
        Self::from_pem(&cert, &key)
    }

    /// A certificate and its private key from PEM text.
    ///
    /// # Errors
    /// No certificate or key in the text, or they do not match.
    pub fn from_pem(certificate: &[u8], private_key: &[u8]) -> Result<Self, CertificateError> {
        let cert = CertificateDer::from_pem_slice(certificate).map_err(|source| {
            CertificateError::Pem {
                what: "CERTIFICATE",
                source,
            }
        })?;
        let key =
            PrivateKeyDer::from_pem_slice(private_key).map_err(|source| CertificateError::Pem {
                what: "private key",
                source,
            })?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(k) => rsa_from_pkcs8(k.secret_pkcs8_der())?,
            PrivateKeyDer::Pkcs1(k) => {
                let pair = KeyPair::from_der(k.secret_pkcs1_der())
                    .map_err(|e| CertificateError::BadPrivateKey(e.to_string()))?;
                let pkcs8 = pair
                    .as_der()
                    .map_err(|e| CertificateError::BadPrivateKey(e.to_string()))?;
                rsa_from_pkcs8(pkcs8.as_ref())?
            }
            _ => return Err(CertificateError::NotRsa),
        };
        Self::build(cert.as_ref().to_vec(), Some(key))
    }

    /// A certificate without its private key (PEM): it encrypts new keys but cannot decrypt
    /// any (a writer-only node).
    ///
    /// # Errors
    /// No valid RSA certificate in the text.
    pub fn from_pem_certificate(certificate: &[u8]) -> Result<Self, CertificateError> {
        let cert = CertificateDer::from_pem_slice(certificate).map_err(|source| {
            CertificateError::Pem {
                what: "CERTIFICATE",
                source,
            }
        })?;
        Self::build(cert.as_ref().to_vec(), None)
    }

    /// A certificate without its private key, from DER.
    ///
    /// # Errors
    /// Not a valid RSA certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        Self::build(der.to_vec(), None)
    }

    /// A certificate and its private key from a password-protected PKCS#12 (`.pfx`) file, as
    /// .NET and Windows export them.
    ///
    /// # Errors
    /// The file cannot be read, the password is wrong, or it holds no RSA key with its
    /// certificate.
    pub fn from_pkcs12_file(
        path: impl AsRef<Path>,
        password: &str,
    ) -> Result<Self, CertificateError> {
        Self::from_pkcs12(&read(path.as_ref())?, password)
    }

    /// A certificate and its private key from PKCS#12 bytes.
    ///
    /// # Errors
    /// The password is wrong, or it holds no RSA key with its certificate.
    pub fn from_pkcs12(data: &[u8], password: &str) -> Result<Self, CertificateError> {
        let store = KeyStore::from_pkcs12(data, password, Pkcs12ImportPolicy::Relaxed).map_err(
            |e| match e {
                p12_keystore::error::Error::MacError(_) => CertificateError::WrongPassword,
                other => CertificateError::Pkcs12(other),
            },
        )?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or(CertificateError::NoPrivateKey)?;
        let key = rsa_from_pkcs8(chain.key().as_der())?;
        let public = key
            .public_key()
            .as_der()
            .map_err(|e| CertificateError::BadPrivateKey(e.to_string()))?;
        // The chain's leaf is the certificate of the key; find it by its public key.
        let leaf = chain
            .certs()
            .iter()
            .find(|c| spki_of(c.as_der()).is_ok_and(|s| s == public.as_ref()))
            .or_else(|| chain.certs().first())
            .ok_or(CertificateError::NoPrivateKey)?;
        Self::build(leaf.as_der().to_vec(), Some(key))
    }

    fn build(
        der: Vec<u8>,
        private_key: Option<PrivateDecryptingKey>,
    ) -> Result<Self, CertificateError> {
        let cert =
            x509_cert::Certificate::from_der(&der).map_err(CertificateError::BadCertificate)?;
        let tbs = cert.tbs_certificate();
        let info = tbs.subject_public_key_info();
        if info.algorithm.oid.to_string() != RSA_ENCRYPTION {
            return Err(CertificateError::NotRsa);
        }
        let spki = info.to_der().map_err(CertificateError::BadCertificate)?;
        let public_key =
            PublicEncryptingKey::from_der(&spki).map_err(|_| CertificateError::NotRsa)?;
        let thumbprint = thumbprint(&der);
        if let Some(key) = &private_key {
            let public = key
                .public_key()
                .as_der()
                .map_err(|e| CertificateError::BadPrivateKey(e.to_string()))?;
            if public.as_ref() != spki.as_slice() {
                return Err(CertificateError::KeyMismatch { thumbprint });
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                subject: tbs.subject().to_string(),
                thumbprint,
                der,
                public_key,
                private_key,
            }),
        })
    }

    /// The SHA-1 thumbprint, uppercase hex (what Windows, .NET and `openssl x509
    /// -fingerprint` show).
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// The subject, as an RFC 4514 string (`CN=…`).
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// Whether the private key is present (needed to decrypt).
    pub fn has_private_key(&self) -> bool {
        self.inner.private_key.is_some()
    }

    /// The certificate, DER-encoded.
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    pub(crate) fn public_key(&self) -> &PublicEncryptingKey {
        &self.inner.public_key
    }

    pub(crate) fn private_key(&self) -> Option<&PrivateDecryptingKey> {
        self.inner.private_key.as_ref()
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("thumbprint", &self.inner.thumbprint)
            .field("subject", &self.inner.subject)
            .field("has_private_key", &self.has_private_key())
            .finish()
    }
}

/// The SHA-1 thumbprint of a DER certificate, uppercase hex.
pub(crate) fn thumbprint(der: &[u8]) -> String {
    Sha1::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The subject of a DER certificate, if it parses.
pub(crate) fn subject_of(der: &[u8]) -> Option<String> {
    x509_cert::Certificate::from_der(der)
        .ok()
        .map(|c| c.tbs_certificate().subject().to_string())
}

fn spki_of(der: &[u8]) -> Result<Vec<u8>, x509_cert::der::Error> {
    x509_cert::Certificate::from_der(der)?
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
}

fn rsa_from_pkcs8(pkcs8: &[u8]) -> Result<PrivateDecryptingKey, CertificateError> {
    // The algorithm identifier comes right after the version, near the start.
    let head = pkcs8.get(..32).unwrap_or(pkcs8);
    if !head
        .windows(RSA_ENCRYPTION_OID.len())
        .any(|w| w == RSA_ENCRYPTION_OID)
    {
        return Err(CertificateError::NotRsa);
    }
    PrivateDecryptingKey::from_pkcs8(pkcs8)
        .map_err(|e| CertificateError::BadPrivateKey(e.to_string()))
}

fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, CertificateError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| CertificateError::Io {
            path: path.to_owned(),
            source,
        })
}
