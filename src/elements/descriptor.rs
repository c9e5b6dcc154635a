//! The `<descriptor>` of a key: which algorithm, and the master key (possibly wrapped in
//! `<encryptedSecret>`).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::DecryptionError;
use crate::algorithm::{Algorithm, EncryptionAlgorithm, ValidationAlgorithm};
use crate::secret::Secret;
use crate::xml::{DP_NAMESPACE, XmlElement};

const CONFIG_NS: &str =
    "Microsoft.AspNetCore.DataProtection.AuthenticatedEncryption.ConfigurationModel.";
const AUTHENTICATED: &str = "AuthenticatedEncryptorDescriptorDeserializer";
const MANAGED: &str = "ManagedAuthenticatedEncryptorDescriptorDeserializer";
const CNG_CBC: &str = "CngCbcAuthenticatedEncryptorDescriptorDeserializer";
const CNG_GCM: &str = "CngGcmAuthenticatedEncryptorDescriptorDeserializer";
/// The local name of the attribute (in the Data Protection namespace) marking elements an XML
/// encryptor must replace.
pub(crate) const REQUIRES_ENCRYPTION: &str = "requiresEncryption";
pub(crate) const NULL_DECRYPTOR: &str =
    "Microsoft.AspNetCore.DataProtection.XmlEncryption.NullXmlDecryptor";
/// Assembly qualification written after type names (the version is never checked on read).
const ASSEMBLY: &str = ", Microsoft.AspNetCore.DataProtection, Version=8.0.0.0, Culture=neutral, PublicKeyToken=adb9793829ddae60";

/// Why a key cannot be used. The key stays in the ring's listing, marked unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyProblem {
    /// The descriptor's deserializer type is not one this crate understands.
    #[error("unsupported descriptor type {0:?}")]
    UnsupportedDescriptor(String),
    /// The master key is encrypted with a decryptor this crate does not have (DPAPI,
    /// DPAPI-NG, certificate, Azure Key Vault, …).
    #[error("master key encrypted with unsupported decryptor {0:?}")]
    EncryptedSecret(String),
    /// The master key is encrypted, and the decryptor configured for its form could not
    /// decrypt it (encrypted to a certificate or key-encryption key this node lacks, altered,
    /// truncated, …).
    #[error("master key cannot be decrypted ({decryptor}): {error}")]
    Undecryptable {
        /// The decryptor type named by the element (short name, without assembly).
        decryptor: String,
        /// Why.
        #[source]
        error: DecryptionError,
    },
    /// The descriptor names an algorithm this crate does not implement.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// The descriptor is missing a part or holds an invalid master key.
    #[error("malformed descriptor: {0}")]
    Malformed(String),
    /// Two different key elements carry this id.
    #[error("two different key elements carry this id")]
    DuplicateId,
}

impl KeyProblem {
    fn malformed(what: impl fmt::Display) -> Self {
        Self::Malformed(what.to_string())
    }
}

/// Reads the `<descriptor deserializerType=…>` element of a key.
pub(crate) fn read(descriptor: &XmlElement) -> Result<(Algorithm, Secret), KeyProblem> {
    let deserializer = descriptor
        .attribute("deserializerType")
        .ok_or_else(|| KeyProblem::malformed("no deserializerType"))?;
    let inner = descriptor
        .elements()
        .next()
        .ok_or_else(|| KeyProblem::malformed("empty descriptor"))?;
    let inner = decrypt_secrets(inner)?;
    let short = type_name(deserializer);
    let algorithm = match short.strip_prefix(CONFIG_NS) {
        Some(AUTHENTICATED) => read_authenticated(&inner)?,
        Some(MANAGED) => read_managed(&inner)?,
        Some(CNG_CBC) => read_cng(&inner, false)?,
        Some(CNG_GCM) => read_cng(&inner, true)?,
        _ => return Err(KeyProblem::UnsupportedDescriptor(short)),
    };
    Ok((algorithm, master_key(&inner)?))
}

/// Builds the descriptor of a new key, as ASP.NET writes it (no XML encryptor).
pub(crate) fn write(algorithm: Algorithm, master_key: &Secret) -> XmlElement {
    let mut inner = XmlElement::new("descriptor")
        .child(XmlElement::new("encryption").attr("algorithm", algorithm.encryption().xml_name()));
    inner = match algorithm.validation() {
        Some(v) => inner.child(XmlElement::new("validation").attr("algorithm", v.xml_name())),
        None => inner.comment(
            " AES-GCM includes a 128-bit authentication tag, no extra validation algorithm required. ",
        ),
    };
    let mut master = XmlElement::new("masterKey");
    master.push_ns_attribute("p4", DP_NAMESPACE, REQUIRES_ENCRYPTION, "true");
    let master = master
        .comment(" Warning: the key below is in an unencrypted form. ")
        .child(XmlElement::new("value").text(STANDARD.encode(master_key.expose_secret())));
    XmlElement::new("descriptor")
        .attr(
            "deserializerType",
            format!("{CONFIG_NS}{AUTHENTICATED}{ASSEMBLY}"),
        )
        .child(inner.child(master))
}

/// The type's full name without assembly qualification, with the ASP.NET 5 beta namespace
/// forwarded.
pub(crate) fn type_name(qualified: &str) -> String {
    let name = qualified.split(',').next().unwrap_or("").trim();
    match name.strip_prefix("Microsoft.AspNet.DataProtection.") {
        Some(rest) => format!("Microsoft.AspNetCore.DataProtection.{rest}"),
        None => name.to_owned(),
    }
}

/// Replaces every `encryptedSecret` by its decryption; only the null decryptor is known.
fn decrypt_secrets(element: &XmlElement) -> Result<XmlElement, KeyProblem> {
    let mut out = element.clone();
    out.try_map_elements(&mut |child| {
        if child.local_name() != "encryptedSecret"
            || child.name.namespace.as_deref() != Some(DP_NAMESPACE)
        {
            return Ok(None);
        }
        let decryptor = type_name(child.attribute("decryptorType").unwrap_or(""));
        if decryptor != NULL_DECRYPTOR {
            return Err(KeyProblem::EncryptedSecret(decryptor));
        }
        let wrapped = child
            .elements()
            .next()
            .and_then(|unencrypted| unencrypted.elements().next())
            .ok_or_else(|| KeyProblem::malformed("empty unencryptedKey"))?;
        Ok(Some(wrapped.clone()))
    })?;
    Ok(out)
}

fn algorithm_attr<'a>(inner: &'a XmlElement, element: &str) -> Result<&'a str, KeyProblem> {
    inner
        .element(element)
        .and_then(|e| e.attribute("algorithm"))
        .ok_or_else(|| KeyProblem::malformed(format!("no <{element} algorithm>")))
}

fn read_authenticated(inner: &XmlElement) -> Result<Algorithm, KeyProblem> {
    let enc = algorithm_attr(inner, "encryption")?;
    let encryption = EncryptionAlgorithm::from_xml_name(enc)
        .ok_or_else(|| KeyProblem::UnsupportedAlgorithm(enc.to_owned()))?;
    if encryption.is_gcm() {
        return Ok(Algorithm::new(encryption, ValidationAlgorithm::HmacSha256));
    }
    let val = algorithm_attr(inner, "validation")?;
    let validation = ValidationAlgorithm::from_xml_name(val)
        .ok_or_else(|| KeyProblem::UnsupportedAlgorithm(val.to_owned()))?;
    Ok(Algorithm::new(encryption, validation))
}

/// `Aes` with a key length in bits, and an HMAC named by friendly or .NET type name.
fn read_managed(inner: &XmlElement) -> Result<Algorithm, KeyProblem> {
    let enc = type_name(algorithm_attr(inner, "encryption")?);
    if !matches!(enc.as_str(), "Aes" | "System.Security.Cryptography.Aes") {
        return Err(KeyProblem::UnsupportedAlgorithm(enc));
    }
    let encryption = cbc_by_bits(key_length(inner)?)?;
    let val = type_name(algorithm_attr(inner, "validation")?);
    let validation = match val.trim_start_matches("System.Security.Cryptography.") {
        "HMACSHA256" => ValidationAlgorithm::HmacSha256,
        "HMACSHA512" => ValidationAlgorithm::HmacSha512,
        _ => return Err(KeyProblem::UnsupportedAlgorithm(val)),
    };
    Ok(Algorithm::new(encryption, validation))
}

/// Windows CNG forms: `AES` with a key length, and (CBC) a `<hash algorithm="SHA256">`.
fn read_cng(inner: &XmlElement, gcm: bool) -> Result<Algorithm, KeyProblem> {
    let enc = algorithm_attr(inner, "encryption")?;
    if !enc.eq_ignore_ascii_case("AES") {
        return Err(KeyProblem::UnsupportedAlgorithm(enc.to_owned()));
    }
    let bits = key_length(inner)?;
    if gcm {
        let encryption = match bits {
            128 => EncryptionAlgorithm::Aes128Gcm,
            192 => EncryptionAlgorithm::Aes192Gcm,
            256 => EncryptionAlgorithm::Aes256Gcm,
            _ => return Err(KeyProblem::UnsupportedAlgorithm(format!("AES-{bits}-GCM"))),
        };
        return Ok(Algorithm::new(encryption, ValidationAlgorithm::HmacSha256));
    }
    let hash = algorithm_attr(inner, "hash")?;
    let validation = match hash.to_ascii_uppercase().as_str() {
        "SHA256" => ValidationAlgorithm::HmacSha256,
        "SHA512" => ValidationAlgorithm::HmacSha512,
        _ => return Err(KeyProblem::UnsupportedAlgorithm(format!("HMAC-{hash}"))),
    };
    Ok(Algorithm::new(cbc_by_bits(bits)?, validation))
}

fn key_length(inner: &XmlElement) -> Result<u32, KeyProblem> {
    inner
        .element("encryption")
        .and_then(|e| e.attribute("keyLength"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| KeyProblem::malformed("no valid keyLength"))
}

fn cbc_by_bits(bits: u32) -> Result<EncryptionAlgorithm, KeyProblem> {
    match bits {
        128 => Ok(EncryptionAlgorithm::Aes128Cbc),
        192 => Ok(EncryptionAlgorithm::Aes192Cbc),
        256 => Ok(EncryptionAlgorithm::Aes256Cbc),
        _ => Err(KeyProblem::UnsupportedAlgorithm(format!("AES-{bits}-CBC"))),
    }
}

/// The base64 text of the whole `<masterKey>` element, whitespace removed.
fn master_key(inner: &XmlElement) -> Result<Secret, KeyProblem> {
    let element = inner
        .element("masterKey")
        .ok_or_else(|| KeyProblem::malformed("no <masterKey>"))?;
    let mut text = zeroize::Zeroizing::new(element.text_content());
    text.retain(|c| !c.is_ascii_whitespace());
    let bytes = STANDARD
        .decode(text.as_bytes())
        .map_err(|_| KeyProblem::malformed("master key is not base64"))?;
    if bytes.is_empty() {
        return Err(KeyProblem::malformed("empty master key"));
    }
    Ok(Secret::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(name: &str) -> String {
        let path = format!(
            "{}/../shared/vectors/upstream/xml/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn wrapped(inner: &str) -> XmlElement {
        let inner = XmlElement::parse(inner).unwrap();
        XmlElement::new("descriptor")
            .attr(
                "deserializerType",
                format!("{CONFIG_NS}{AUTHENTICATED}{ASSEMBLY}"),
            )
            .child(inner)
    }

    /// Without comments, and with the namespace prefix normalized: what XML readers see.
    fn canonical(e: &XmlElement) -> String {
        let mut e = e.clone();
        strip_comments(&mut e);
        e.to_compact_string()
            .replace("enc:", "p4:")
            .replace("xmlns:enc", "xmlns:p4")
    }

    fn strip_comments(e: &mut XmlElement) {
        e.children
            .retain(|c| !matches!(c, crate::xml::Node::Comment(_)));
        for c in &mut e.children {
            if let crate::xml::Node::Element(child) = c {
                strip_comments(child);
            }
        }
    }

    /// AuthenticatedEncryptorDescriptorTests.ExportToXml_ProducesCorrectPayload_{Cbc,Gcm}.
    #[test]
    fn upstream_descriptor_exports() {
        let master = Secret::from_slice(b"[PLACEHOLDER]");
        for (file, alg) in [
            (
                "descriptor-export-cbc-expected.xml",
                Algorithm::new(
                    EncryptionAlgorithm::Aes192Cbc,
                    ValidationAlgorithm::HmacSha512,
                ),
            ),
            (
                "descriptor-export-gcm-expected.xml",
                Algorithm::new(
                    EncryptionAlgorithm::Aes192Gcm,
                    ValidationAlgorithm::HmacSha256,
                ),
            ),
        ] {
            let expected = wrapped(&upstream(file));
            let (read_alg, read_key) = read(&expected).unwrap();
            assert_eq!((read_alg, &read_key), (alg, &master), "{file}");
            let written = write(alg, &master);
            assert_eq!(canonical(&written), canonical(&expected), "{file}");
        }
    }

    #[test]
    fn unsupported_forms_are_reported() {
        let dpapi = upstream("docs-key-dpapi.xml");
        let key = XmlElement::parse(&dpapi).unwrap();
        let descriptor = key.element("descriptor").unwrap();
        // The docs sample uses placeholders for the type names: unknown descriptor.
        assert!(matches!(
            read(descriptor),
            Err(KeyProblem::UnsupportedDescriptor(_))
        ));
        let odd = wrapped(
            "<descriptor><encryption algorithm='AES_512_CBC'/><masterKey>AA==</masterKey></descriptor>",
        );
        assert!(matches!(
            read(&odd),
            Err(KeyProblem::UnsupportedAlgorithm(_))
        ));
        let bad = wrapped(
            "<descriptor><encryption algorithm='AES_256_GCM'/><masterKey>not base64!</masterKey></descriptor>",
        );
        assert!(matches!(read(&bad), Err(KeyProblem::Malformed(_))));
    }
}
