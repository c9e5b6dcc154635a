//! The provider: built once per application, hands out protectors, manages the ring.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use time::OffsetDateTime;

use crate::keyring::manager::{KeyManager, ManagerConfig, std_to_time};
use crate::keyring::policy::Policy;
use crate::repository::{DirectoryRepository, MemoryRepository, XmlRepository};
use crate::{
    Algorithm, Clock, EnsureOutcome, Error, KeyId, KeyInfo, Protector, RandomSource, Result,
    SystemClock, SystemRandom,
};

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
    inner: Arc<Shared>,
}

struct Shared {
    manager: Arc<KeyManager>,
    application_name: String,
    auto_generate: bool,
    refresher: Option<tokio::task::JoinHandle<()>>,
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

    /// Elements of the store that were skipped because they could not be read.
    pub fn problems(&self) -> Vec<String> {
        self.inner.manager.current().problems.clone()
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
        self.inner.manager.reload().await.map(|_| ())
    }

    /// Reloads, then creates a key if the rotation rules call for one and this node may
    /// create keys. This is what the background refresher runs; scheduled jobs and tests call
    /// it directly. When many nodes call it at once, exactly one key is created.
    ///
    /// # Errors
    /// The store failed (then no key is created).
    pub async fn ensure_key(&self) -> Result<EnsureOutcome> {
        self.inner.manager.ensure(self.inner.auto_generate).await
    }

    /// Like [`ensure_key`](Self::ensure_key), creating the key even on a node configured
    /// not to generate keys (for the `dpkeys ensure` job).
    ///
    /// # Errors
    /// The store failed.
    pub async fn ensure_key_forced(&self) -> Result<EnsureOutcome> {
        self.inner.manager.ensure(true).await
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
        let ring = self.inner.manager.reload().await?;
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
            self.inner.manager.ensure(true).await?;
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
}

impl std::fmt::Debug for DataProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataProtection")
            .field("application_name", &self.inner.application_name)
            .field("store", &self.inner.manager.repository().describe())
            .finish_non_exhaustive()
    }
}

/// Configures a [`DataProtection`]. Every setting has ASP.NET Core's default.
#[must_use = "call build() to get a provider"]
pub struct DataProtectionBuilder {
    application_name: String,
    repository: Option<Arc<dyn XmlRepository>>,
    policy: Policy,
    algorithm: Algorithm,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    store_timeout: Duration,
    startup_wait: Duration,
    unknown_key_refresh_interval: Duration,
    background_refresh: bool,
}

impl Default for DataProtectionBuilder {
    fn default() -> Self {
        Self {
            application_name: String::new(),
            repository: None,
            policy: Policy::default(),
            algorithm: Algorithm::default(),
            clock: Arc::new(SystemClock),
            random: Arc::new(SystemRandom),
            store_timeout: Duration::from_secs(30),
            startup_wait: Duration::ZERO,
            unknown_key_refresh_interval: Duration::from_secs(1),
            background_refresh: true,
        }
    }
}

impl std::fmt::Debug for DataProtectionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataProtectionBuilder")
            .field("application_name", &self.application_name)
            .field("policy", &self.policy)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl DataProtectionBuilder {
    /// The application name, the first purpose of every chain (ASP.NET's
    /// `SetApplicationName`). Apps that must read each other's payloads use the same name.
    /// To interoperate with an ASP.NET app that never set one, use its content root path
    /// with a trailing separator (.NET 7+).
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// Keeps keys in a directory, in ASP.NET Core's file layout (shareable with .NET nodes).
    pub fn persist_keys_to_directory(self, dir: impl Into<PathBuf>) -> Self {
        self.persist_keys_to(DirectoryRepository::new(dir))
    }

    /// Keeps keys in `repository`.
    pub fn persist_keys_to(mut self, repository: impl XmlRepository + 'static) -> Self {
        self.repository = Some(Arc::new(repository));
        self
    }

    /// Keeps keys in a shared `repository`.
    pub fn persist_keys_to_shared(mut self, repository: Arc<dyn XmlRepository>) -> Self {
        self.repository = Some(repository);
        self
    }

    /// The cipher of new keys (default AES-256-CBC with HMAC-SHA256).
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Lifetime of new keys (default 90 days).
    pub fn key_lifetime(mut self, lifetime: Duration) -> Self {
        self.policy.key_lifetime = std_to_time(lifetime);
        self
    }

    /// Time a new key gets to reach every node before it becomes the default (2 days).
    pub fn propagation_window(mut self, window: Duration) -> Self {
        self.policy.propagation_window = std_to_time(window);
        self
    }

    /// How often the ring is reloaded in the background (default 24 hours). Unknown key ids
    /// trigger a reload at any time, so this can stay long.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.policy.refresh_interval = std_to_time(interval);
        self
    }

    /// Clock difference tolerated between nodes (default 5 minutes).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.policy.clock_skew = std_to_time(skew);
        self
    }

    /// This node never creates keys (read-only web nodes; a scheduled `dpkeys ensure` job
    /// creates them). Without a usable key, protect fails with [`Error::NoDefaultKey`].
    pub fn disable_automatic_key_generation(mut self) -> Self {
        self.policy.auto_generate = false;
        self
    }

    /// Timeout of every store operation (default 30 seconds).
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = timeout;
        self
    }

    /// How long `build` keeps retrying an unreachable store before failing (default: no
    /// retry).
    pub fn startup_wait(mut self, wait: Duration) -> Self {
        self.startup_wait = wait;
        self
    }

    /// Minimum time between two reloads caused by unknown key ids (default 1 second).
    pub fn unknown_key_refresh_interval(mut self, interval: Duration) -> Self {
        self.unknown_key_refresh_interval = interval;
        self
    }

    /// Whether a background task reloads the ring periodically and on demand (default
    /// on). Without it, call [`DataProtection::ensure_key`] yourself.
    pub fn background_refresh(mut self, enabled: bool) -> Self {
        self.background_refresh = enabled;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The source of randomness (default: a per-thread CSPRNG seeded by the OS).
    pub fn random(mut self, random: Arc<dyn RandomSource>) -> Self {
        self.random = random;
        self
    }

    /// Loads the ring and, if the rules call for it and this node may, creates a key.
    ///
    /// # Errors
    /// The store cannot be read (never a reason to create a key), or the settings are
    /// inconsistent.
    pub async fn build(self) -> Result<DataProtection> {
        let p = &self.policy;
        if p.key_lifetime <= p.refresh_interval + p.propagation_window {
            return Err(Error::Config(
                "the key lifetime must exceed the refresh interval plus the propagation window"
                    .into(),
            ));
        }
        let repository = self.repository.unwrap_or_else(|| {
            tracing::warn!("no key store configured: keys live in memory and die with the process");
            Arc::new(MemoryRepository::new())
        });
        let config = ManagerConfig {
            policy: self.policy,
            algorithm: self.algorithm,
            store_timeout: self.store_timeout,
            unknown_key_refresh_interval: self.unknown_key_refresh_interval,
        };
        let manager = Arc::new(KeyManager::new(repository, config, self.clock, self.random));
        let deadline = tokio::time::Instant::now() + self.startup_wait;
        let mut delay = Duration::from_millis(100);
        loop {
            match manager.ensure(self.policy.auto_generate).await {
                Ok(_) => break,
                Err(Error::Store(e)) if tokio::time::Instant::now() + delay < deadline => {
                    tracing::warn!("key store not ready, retrying in {delay:?}: {e}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
            }
        }
        let refresher = self.background_refresh.then(|| {
            tokio::spawn(refresh_loop(
                Arc::downgrade(&manager),
                manager.wake.clone(),
                self.policy.auto_generate,
            ))
        });
        Ok(DataProtection {
            inner: Arc::new(Shared {
                manager,
                application_name: self.application_name,
                auto_generate: self.policy.auto_generate,
                refresher,
            }),
        })
    }
}

/// Reloads periodically (creating due keys) and whenever woken, retrying failures sooner.
async fn refresh_loop(manager: Weak<KeyManager>, wake: Arc<tokio::sync::Notify>, generate: bool) {
    let mut failures = 0u32;
    loop {
        let Some(delay) = manager.upgrade().map(|m| {
            if failures == 0 {
                m.next_refresh_delay()
            } else {
                Duration::from_secs(5 << failures.min(6)).min(m.next_refresh_delay())
            }
        }) else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = wake.notified() => {}
        }
        let Some(m) = manager.upgrade() else { return };
        // Rate-limit wake-ups (unknown key ids) like explicit unknown-key reloads.
        let result = m.ensure_rate_limited(generate).await;
        match result {
            Ok(_) => failures = 0,
            Err(e) => {
                failures += 1;
                tracing::warn!(
                    "background key ring refresh failed (the loaded ring stays in use): {e}"
                );
            }
        }
    }
}
