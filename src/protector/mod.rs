//! Protecting and unprotecting payloads for one purpose chain.

use std::cell::RefCell;
use std::sync::Arc;

mod time_limited;

pub use time_limited::{PURPOSE as TIME_LIMITED_PURPOSE, TimeLimitedProtector};

use crate::base64url::{self, Alphabet};
use crate::elements::KeyProblem;
use crate::error::{Error, Result};
use crate::key_id::KeyId;
use crate::keyring::manager::KeyManager;
use crate::keyring::ring::{KeyRing, ProtectWith};
use crate::metrics;
use crate::payload::{self, EnvelopeError};

/// Protects and unprotects payloads for one purpose chain. Cheap to clone; create one per
/// purpose and keep it.
///
/// A payload protected by one protector only unprotects with a protector of exactly the same
/// application name and purposes (in order), on any node that shares the key ring.
#[derive(Clone)]
pub struct Protector {
    inner: Arc<Inner>,
}

struct Inner {
    manager: Arc<KeyManager>,
    purposes: Vec<String>,
    /// The AAD after the 20-byte header: purpose count and purposes, encoded once.
    aad_tail: Vec<u8>,
}

/// The result of [`Protector::dangerous_unprotect_ignoring_revocation`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unprotected {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The key that protected the payload had been revoked.
    pub was_revoked: bool,
    /// The payload should be protected again: its key is revoked or is not the default key.
    pub requires_migration: bool,
}

impl std::fmt::Debug for Unprotected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unprotected")
            .field(
                "plaintext",
                &format_args!("[{} bytes]", self.plaintext.len()),
            )
            .field("was_revoked", &self.was_revoked)
            .field("requires_migration", &self.requires_migration)
            .finish()
    }
}

/// Why an unprotect failed; logged at debug level, never returned.
#[derive(Debug)]
#[expect(dead_code, reason = "the fields are read through Debug, in the log")]
enum Failure {
    Envelope(EnvelopeError),
    UnknownKey(KeyId),
    Revoked(KeyId),
    Unreadable(KeyId),
    Decrypt(KeyId, crate::crypto::DecryptError),
}

impl Protector {
    pub(crate) fn new(manager: Arc<KeyManager>, purposes: Vec<String>) -> Self {
        let aad_tail = payload::encode_purposes(&purposes);
        Self {
            inner: Arc::new(Inner {
                manager,
                purposes,
                aad_tail,
            }),
        }
    }

    /// A protector for this chain with `purpose` appended.
    pub fn create_protector(&self, purpose: impl Into<String>) -> Self {
        let mut purposes = self.inner.purposes.clone();
        purposes.push(purpose.into());
        Self::new(self.inner.manager.clone(), purposes)
    }

    /// The purpose chain, application name first.
    pub fn purposes(&self) -> &[String] {
        &self.inner.purposes
    }

    /// Protects `plaintext` with the ring's default key.
    ///
    /// # Errors
    /// [`Error::NoDefaultKey`] when the ring has no key that may protect;
    /// [`Error::DefaultKeyUnreadable`] when the default key cannot be read by this node.
    pub fn protect(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        self.seal(plaintext, |len, write| {
            let mut out = payload::zeroed(len);
            write(&mut out);
            out
        })
    }

    /// Protects `plaintext` and hands the binary payload to `encode`, from a stack buffer
    /// when it is small, so the text forms allocate only their result.
    pub(crate) fn protect_with<T>(
        &self,
        plaintext: &[u8],
        encode: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        self.seal(plaintext, |len, write| {
            payload::with_scratch::<STACK_PAYLOAD, _>(len, |out| {
                write(out);
                encode(out)
            })
        })
    }

    /// Protects `plaintext` with the ring's default key: `place` is given the payload's
    /// length and a writer, which writes the header and the encryptor payload straight
    /// into the buffer `place` sized (once) for it.
    fn seal<T>(
        &self,
        plaintext: &[u8],
        place: impl FnOnce(usize, &mut dyn FnMut(&mut [u8])) -> T,
    ) -> Result<T> {
        let ring = self.inner.manager.snapshot();
        let Some(key) = ring.protect_key() else {
            self.inner.manager.request_refresh();
            let error = no_key_error(&ring);
            metrics::protect(match error {
                Error::DefaultKeyUnreadable { .. } => "default_unreadable",
                _ => "no_key",
            });
            return Err(error);
        };
        let encryptor = key.encryptor().ok_or(Error::NoDefaultKey)?;
        let id = key.key.id;
        let random = self.inner.manager.random();
        let aad_tail = &self.inner.aad_tail[..];
        let len = payload::HEADER_LEN + encryptor.payload_len(plaintext.len());
        let result = place(len, &mut |out: &mut [u8]| {
            let (header, body) = out.split_at_mut(payload::HEADER_LEN);
            payload::write_header(id, header);
            encryptor.encrypt_into(&[&*header, aad_tail], plaintext, random, body);
        });
        metrics::protect("ok");
        Ok(result)
    }

    /// Unprotects a payload using the key ring as loaded.
    ///
    /// If the payload names a key the ring does not know (created moments ago by another
    /// node, say), this fails but asks for a background reload, so a retry soon succeeds.
    /// [`unprotect_async`](Self::unprotect_async) waits for that reload instead.
    ///
    /// # Errors
    /// [`Error::InvalidPayload`] for every kind of failure.
    pub fn unprotect(&self, protected: &[u8]) -> Result<Vec<u8>> {
        counted(self.open_current(protected))
    }

    /// [`unprotect`](Self::unprotect), uncounted: the failure, for the caller to report.
    fn open_current(&self, protected: &[u8]) -> Result<Vec<u8>, Failure> {
        let ring = self.inner.manager.snapshot();
        let result = self.open(&ring, protected, false);
        if let Err(Failure::UnknownKey(_)) = result {
            self.inner.manager.request_refresh();
        }
        result.map(|(plaintext, _)| plaintext)
    }

    /// Unprotects a payload; when it names a key the ring does not know, reloads the ring
    /// (at most once per configured interval, shared with concurrent callers) and tries again.
    ///
    /// # Errors
    /// [`Error::InvalidPayload`] for every kind of failure.
    pub async fn unprotect_async(&self, protected: &[u8]) -> Result<Vec<u8>> {
        counted(self.open_reloading(protected).await)
    }

    /// [`unprotect_async`](Self::unprotect_async), uncounted.
    async fn open_reloading(&self, protected: &[u8]) -> Result<Vec<u8>, Failure> {
        // A borrowed snapshot, not `current()`: cloning the ring's `Arc` would bump one
        // shared reference count per call from every thread.
        let first = self.open(&self.inner.manager.snapshot(), protected, false);
        let result = match first {
            Err(Failure::UnknownKey(id)) => {
                let ring = self.inner.manager.reload_for_unknown_key(id).await;
                self.open(&ring, protected, false)
            }
            other => other,
        };
        result.map(|(p, _)| p)
    }

    /// Unprotects a payload even if its key was revoked, and says so. Use it only to
    /// migrate data away from a revoked key.
    ///
    /// # Errors
    /// [`Error::InvalidPayload`] for every other kind of failure.
    pub fn dangerous_unprotect_ignoring_revocation(&self, protected: &[u8]) -> Result<Unprotected> {
        let ring = self.inner.manager.current();
        let (plaintext, id) = counted(self.open(&ring, protected, true))?;
        let was_revoked = ring.get(&id).is_some_and(|k| k.revoked);
        Ok(Unprotected {
            plaintext,
            was_revoked,
            requires_migration: was_revoked || ring.default_key_id() != Some(id),
        })
    }

    /// Protects a UTF-8 string; returns base64url without padding (ASP.NET's
    /// `Protect(string)`).
    ///
    /// # Errors
    /// As [`protect`](Self::protect).
    pub fn protect_str(&self, plaintext: &str) -> Result<String> {
        self.protect_with(plaintext.as_bytes(), |payload| {
            base64url::encode(Alphabet::UrlSafe, payload)
        })
    }

    /// Reverses [`protect_str`](Self::protect_str).
    ///
    /// # Errors
    /// [`Error::InvalidPayload`] for bad base64, a bad payload or non-UTF-8 plaintext.
    pub fn unprotect_str(&self, protected: &str) -> Result<String> {
        let plaintext = with_scratch(|buf| {
            decode_base64url(protected, buf)?;
            self.unprotect(buf)
        })?;
        utf8(plaintext)
    }

    /// Like [`unprotect_str`](Self::unprotect_str), reloading the ring for unknown keys.
    ///
    /// # Errors
    /// [`Error::InvalidPayload`] for bad base64, a bad payload or non-UTF-8 plaintext.
    pub async fn unprotect_str_async(&self, protected: &str) -> Result<String> {
        let mut bytes = Vec::new();
        decode_base64url(protected, &mut bytes)?;
        utf8(self.unprotect_async(&bytes).await?)
    }

    /// A protector whose payloads carry an authenticated expiration time.
    pub fn time_limited(&self) -> TimeLimitedProtector {
        TimeLimitedProtector::new(self.create_protector(TIME_LIMITED_PURPOSE))
    }

    pub(crate) fn manager(&self) -> &KeyManager {
        &self.inner.manager
    }

    fn open(
        &self,
        ring: &KeyRing,
        protected: &[u8],
        allow_revoked: bool,
    ) -> Result<(Vec<u8>, KeyId), Failure> {
        let (id, header, body) = payload::parse(protected).map_err(Failure::Envelope)?;
        let key = ring.get(&id).ok_or(Failure::UnknownKey(id))?;
        if key.revoked && !allow_revoked {
            return Err(Failure::Revoked(id));
        }
        let encryptor = key.encryptor().ok_or(Failure::Unreadable(id))?;
        let plaintext = encryptor
            .decrypt(&[header, &self.inner.aad_tail], body)
            .map_err(|e| Failure::Decrypt(id, e))?;
        Ok((plaintext, id))
    }
}

fn no_key_error(ring: &KeyRing) -> Error {
    match ring.protect_with() {
        ProtectWith::Unreadable(id) => Error::DefaultKeyUnreadable {
            id,
            problem: ring
                .problem_of(id)
                .cloned()
                .unwrap_or_else(|| KeyProblem::Malformed("unreadable".into())),
        },
        _ => Error::NoDefaultKey,
    }
}

/// Counts an unprotect's outcome and hides the reason of a failure (logged at debug level).
fn counted<T>(result: Result<T, Failure>) -> Result<T> {
    match result {
        Ok(value) => {
            metrics::unprotect("ok");
            Ok(value)
        }
        Err(failure) => {
            metrics::unprotect(failure.outcome());
            Err(reject(failure))
        }
    }
}

fn reject(failure: Failure) -> Error {
    tracing::debug!(reason = ?failure, "unprotect failed");
    Error::InvalidPayload
}

impl Failure {
    /// The metrics label of this failure.
    fn outcome(&self) -> &'static str {
        match self {
            Failure::UnknownKey(_) => "unknown_key",
            Failure::Revoked(_) => "revoked",
            Failure::Envelope(_) | Failure::Unreadable(_) | Failure::Decrypt(..) => "invalid",
        }
    }
}

fn decode_base64url(text: &str, out: &mut Vec<u8>) -> Result<()> {
    let trimmed = text.trim_end_matches('=');
    base64url::decode_into(Alphabet::UrlSafe, trimmed.as_bytes(), out).map_err(|_| {
        tracing::debug!("unprotect failed: not base64url");
        Error::InvalidPayload
    })
}

/// Payloads up to this length are written to a stack buffer by
/// [`Protector::protect_with`] (a 36-byte session id makes 84 bytes with GCM, 100 with CBC).
const STACK_PAYLOAD: usize = 512;

/// Runs `f` with this thread's scratch buffer, empty (a fresh one if it is in use).
/// It holds protected payloads and is dropped after a large one, so a huge payload does not stay allocated.
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    const KEEP: usize = 4096;
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = f(&mut buf);
            if buf.capacity() > KEEP {
                *buf = Vec::new();
            }
            result
        }
        Err(_) => f(&mut Vec::new()),
    })
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| {
        tracing::debug!("unprotect failed: plaintext is not UTF-8");
        Error::InvalidPayload
    })
}

impl std::fmt::Debug for Protector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Protector")
            .field("purposes", &self.inner.purposes)
            .finish_non_exhaustive()
    }
}
