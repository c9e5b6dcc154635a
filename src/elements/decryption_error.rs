//! Why an `<encryptedSecret>` could not be decrypted: the vocabulary every decryptor (built-in
//! or not) reports in.

/// Why the encrypted master key of a key could not be decrypted. The key is then listed as
/// unreadable and never used; nothing here holds secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptionError {
    /// Encrypted to a certificate this node was not given (with its private key).
    #[error("encrypted to certificate {thumbprint} ({subject}), which this node does not have")]
    UnknownCertificate {
        /// SHA-1 thumbprint of the certificate, uppercase hex (as Windows and .NET show it).
        thumbprint: String,
        /// The certificate's subject.
        subject: String,
    },
    /// Encrypted under a key-encryption key this node was not given.
    #[error("encrypted under key-encryption key {id:?}, which this node does not have")]
    UnknownKek {
        /// The key-encryption key's id, as written in the element.
        id: String,
    },
    /// The element is not in the decryptor's format: a part is missing, or base64 or the
    /// decrypted XML is broken (a truncated or edited file).
    #[error("malformed encrypted element: {0}")]
    Malformed(String),
    /// The element names an algorithm this crate does not implement.
    #[error("unsupported encryption algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The ciphertext did not decrypt: it was altered, or the key does not fit.
    #[error("decryption failed (altered ciphertext or wrong key)")]
    Failed,
    /// A decryptor outside this crate failed.
    #[error("{0}")]
    Other(String),
}
