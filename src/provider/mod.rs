//! The provider: built once per application, hands out protectors, manages the ring.

mod builder;
mod health;
mod maintenance;
mod refresher;

use std::sync::Arc;

use time::OffsetDateTime;

pub use builder::DataProtectionBuilder;
pub use health::{Health, HealthStatus};
pub use maintenance::{KeyCheck, PruneReport, PrunedElement};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::key_id::KeyId;
use crate::keyring::manager::{EnsureOutcome, KeyManager, ReloadCause};
use crate::keyring::problems::RingProblem;
use crate::keyring::ring::KeyInfo;
use crate::protector::Protector;
use crate::random::RandomSource;
use crate::repository::XmlRepository;

/// The data-protection system of one application: a key ring kept in step with its store,
/// and protectors for purpose chains. Cheap to clone; build it once at start-up.
///
/// ```no_run
/// # async fn run() -> data_protection::Result<()> {
/// use data_protection::DataProtection;
///
/// let dp = DataProtection::builder()
///     .application_name("MyApp")
///     .persist_keys_to_directory("/var/lib/myapp/keys")
///     .build()
///     .await?;
/// let p = dp.protector(["my purpose"]);
/// let token = p.protect_str("Hello, world!")?;
/// assert_eq!(p.unprotect_str(&token)?, "Hello, world!");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DataProtection {
    pub(crate) inner: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) manager: Arc<KeyManager>,
    pub(crate) application_name: String,
    pub(crate) auto_generate: bool,
    pub(crate) refresher: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(task) = &self.refresher {
            task.abort();
        }
    }
}

impl DataProtection {
    /// Starts configuring a provider.
    pub fn builder() -> DataProtectionBuilder {
        DataProtectionBuilder::default()
    }

    /// A protector for `purposes`, after the application name (ASP.NET's
    /// `CreateProtector(p1, p2, …)` on the application's provider).
    pub fn protector<I, S>(&self, purposes: I) -> Protector
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut chain = Vec::new();
        if !self.inner.application_name.trim().is_empty() {
            chain.push(self.inner.application_name.clone());
        }
        chain.extend(purposes.into_iter().map(Into::into));
        Protector::new(self.inner.manager.clone(), chain)
    }

    /// The application name (first purpose of every chain; empty for none).
    pub fn application_name(&self) -> &str {
        &self.inner.application_name
    }

    /// Every key of the ring as currently loaded, sorted by activation date.
    pub fn keys(&self) -> Vec<KeyInfo> {
        let ring = self.inner.manager.current();
        ring.infos(self.inner.manager.clock().now())
    }

    /// What the loaded ring could not use: skipped elements, keys this node cannot read,
    /// a default key it cannot read.
    pub fn problems(&self) -> Vec<RingProblem> {
        self.inner.manager.current().problems().to_vec()
    }

    /// The key new payloads are protected with, if any.
    pub fn default_key(&self) -> Option<KeyId> {
        self.inner.manager.current().protect_key().map(|k| k.key.id)
    }

    /// Reloads the ring from the store now.
    ///
    /// # Errors
    /// The store failed; the ring already loaded stays in use.
    pub async fn refresh(&self) -> Result<()> {
        self.inner
            .manager
            .reload(ReloadCause::Manual)
            .await
            .map(|_| ())
    }

    /// Reloads, then creates a key if the rotation rules call for one and this node may
    /// create keys. This is what the background refresher runs; scheduled jobs and tests call
    /// it directly. When many nodes call it at once, exactly one key is created.
    ///
    /// # Errors
    /// The store failed (then no key is created).
    pub async fn ensure_key(&self) -> Result<EnsureOutcome> {
        self.inner
            .manager
            .ensure(self.inner.auto_generate, ReloadCause::Manual)
            .await
    }

    /// Like [`ensure_key`](Self::ensure_key), creating the key even on a node configured
    /// not to generate keys (for the `dpkeys ensure` job).
    ///
    /// # Errors
    /// The store failed.
    pub async fn ensure_key_forced(&self) -> Result<EnsureOutcome> {
        self.inner.manager.ensure(true, ReloadCause::Manual).await
    }

    /// Creates a key with a random id activating at `activation` (manual rotation).
    ///
    /// # Errors
    /// The store failed, or the dates are inconsistent.
    pub async fn create_key(
        &self,
        activation: OffsetDateTime,
        expiration: OffsetDateTime,
    ) -> Result<KeyId> {
        self.inner.manager.create_key(activation, expiration).await
    }

    /// Revokes one key: it no longer protects or unprotects (except through
    /// [`Protector::dangerous_unprotect_ignoring_revocation`]). If it was the default key and
    /// this node may create keys, a replacement is created at once.
    ///
    /// # Errors
    /// [`Error::UnknownKey`] if the ring lacks that key; or the store failed.
    pub async fn revoke_key(&self, id: KeyId, reason: &str) -> Result<()> {
        let ring = self.inner.manager.reload(ReloadCause::Manual).await?;
        if ring.get(&id).is_none() {
            return Err(Error::UnknownKey(id));
        }
        self.inner.manager.revoke_key(id, reason).await?;
        self.replace_revoked_default().await
    }

    /// Revokes every key created strictly before `date`.
    ///
    /// # Errors
    /// The store failed.
    pub async fn revoke_all_keys_created_before(
        &self,
        date: OffsetDateTime,
        reason: &str,
    ) -> Result<()> {
        self.inner
            .manager
            .revoke_all_created_before(date, reason)
            .await?;
        self.replace_revoked_default().await
    }

    /// After a revocation the default key may be gone: create its replacement at once
    /// (when this node may), rather than on the next protect.
    async fn replace_revoked_default(&self) -> Result<()> {
        if self.inner.auto_generate {
            self.inner
                .manager
                .ensure(true, ReloadCause::Maintenance)
                .await?;
        }
        Ok(())
    }

    /// The key manager (for the maintenance operations).
    pub(crate) fn manager(&self) -> &Arc<KeyManager> {
        &self.inner.manager
    }

    /// The store.
    pub fn repository(&self) -> &Arc<dyn XmlRepository> {
        self.inner.manager.repository()
    }

    /// The clock in use.
    pub fn clock(&self) -> &dyn Clock {
        self.inner.manager.clock()
    }

    /// The clock in use, shared (for layers that should follow the provider's time).
    pub fn shared_clock(&self) -> Arc<dyn Clock> {
        self.inner.manager.shared_clock()
    }

    /// The source of randomness in use, shared (session keys, ids).
    pub fn random(&self) -> Arc<dyn RandomSource> {
        self.inner.manager.shared_random()
    }
}

impl std::fmt::Debug for DataProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataProtection")
            .field("application_name", &self.inner.application_name)
            .field("store", &self.inner.manager.repository().describe())
            .finish_non_exhaustive()
    }
}
