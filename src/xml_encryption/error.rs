//! The error of an encryptor.

/// An [`XmlEncryptor`](super::XmlEncryptor) could not encrypt a key; the key was not
/// written.
#[derive(Debug, thiserror::Error)]
#[error("key encryption failed: {message}")]
pub struct EncryptionError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl EncryptionError {
    /// An error with a message (no secrets in it).
    pub fn new(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}
