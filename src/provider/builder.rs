//! [`DataProtectionBuilder`]: every setting of a provider, checked when it is built.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::refresher::refresh_loop;
use super::{DataProtection, Shared};
use crate::algorithm::Algorithm;
use crate::clock::{Clock, SystemClock, to_time_duration};
use crate::error::{Error, Result};
use crate::keyring::manager::{KeyManager, ManagerConfig, ReloadCause};
use crate::keyring::policy::Policy;
use crate::random::{RandomSource, SystemRandom};
use crate::repository::{DirectoryRepository, MemoryRepository, XmlRepository};

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
        self.policy.key_lifetime = to_time_duration(lifetime);
        self
    }

    /// Time a new key gets to reach every node before it becomes the default (2 days).
    pub fn propagation_window(mut self, window: Duration) -> Self {
        self.policy.propagation_window = to_time_duration(window);
        self
    }

    /// How often the ring is reloaded in the background (default 24 hours). Unknown key ids
    /// trigger a reload at any time, so this can stay long.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.policy.refresh_interval = to_time_duration(interval);
        self
    }

    /// Clock difference tolerated between nodes (default 5 minutes).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.policy.clock_skew = to_time_duration(skew);
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
        self.check()?;
        crate::metrics::describe();
        let repository = self.repository.unwrap_or_else(|| {
            tracing::warn!("no key store configured: keys live in memory and die with the process");
            Arc::new(MemoryRepository::new())
        });
        let config = ManagerConfig {
            application_name: self.application_name.clone(),
            policy: self.policy,
            algorithm: self.algorithm,
            store_timeout: self.store_timeout,
            unknown_key_refresh_interval: self.unknown_key_refresh_interval,
        };
        let manager = Arc::new(KeyManager::new(repository, config, self.clock, self.random));
        let start = tokio::time::Instant::now();
        let deadline = start.checked_add(self.startup_wait).unwrap_or(start);
        let mut delay = Duration::from_millis(100);
        loop {
            match manager
                .ensure(self.policy.auto_generate, ReloadCause::Startup)
                .await
            {
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

    /// Rejects settings that cannot work: every duration must be at most a century (none
    /// means "forever"), and a key must outlive a refresh plus the propagation window.
    fn check(&self) -> Result<()> {
        let p = &self.policy;
        let century = time::Duration::days(36_525);
        for (name, d) in [
            ("key lifetime", p.key_lifetime),
            ("propagation window", p.propagation_window),
            ("refresh interval", p.refresh_interval),
            ("clock skew", p.clock_skew),
        ] {
            if d > century || d.is_negative() {
                return Err(Error::Config(format!(
                    "the {name} ({d}) must be between zero and 100 years"
                )));
            }
        }
        for (name, d) in [
            ("store timeout", self.store_timeout),
            ("startup wait", self.startup_wait),
            (
                "unknown-key refresh interval",
                self.unknown_key_refresh_interval,
            ),
        ] {
            if d > Duration::from_secs(36_525 * 24 * 3600) {
                return Err(Error::Config(format!(
                    "the {name} ({d:?}) must be at most 100 years"
                )));
            }
        }
        if p.key_lifetime <= p.refresh_interval + p.propagation_window {
            return Err(Error::Config(
                "the key lifetime must exceed the refresh interval plus the propagation window"
                    .into(),
            ));
        }
        Ok(())
    }
}
