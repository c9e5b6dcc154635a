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
#[cfg(feature = "certificates")]
use crate::xml_encryption::{Certificate, CertificateXmlDecryptor, CertificateXmlEncryptor};
use crate::xml_encryption::{
    Kek, KekXmlDecryptor, KekXmlEncryptor, KeyProtection, XmlDecryptor, XmlEncryptor,
};

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
    key_encryptor: Option<Arc<dyn XmlEncryptor>>,
    key_decryptors: Vec<Arc<dyn XmlDecryptor>>,
    keks: KekXmlDecryptor,
    #[cfg(feature = "certificates")]
    certificates: Vec<Certificate>,
    allow_unencrypted_keys: bool,
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
            key_encryptor: None,
            key_decryptors: Vec::new(),
            keks: KekXmlDecryptor::default(),
            #[cfg(feature = "certificates")]
            certificates: Vec::new(),
            allow_unencrypted_keys: false,
        }
    }
}

impl std::fmt::Debug for DataProtectionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataProtectionBuilder")
            .field("application_name", &self.application_name)
            .field("policy", &self.policy)
            .field("algorithm", &self.algorithm)
            .field("key_encryptor", &self.key_encryptor)
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

    /// Encrypts new master keys to `certificate` (its RSA public key), as ASP.NET Core's
    /// `ProtectKeysWithCertificate` does: ASP.NET nodes holding the certificate's private key
    /// read them. The certificate also decrypts, when it carries its private key.
    #[cfg(feature = "certificates")]
    pub fn protect_keys_with_certificate(mut self, certificate: Certificate) -> Self {
        self.key_encryptor = Some(Arc::new(CertificateXmlEncryptor::new(certificate.clone())));
        self.certificates.push(certificate);
        self
    }

    /// Certificates (with private keys) that may decrypt keys encrypted to them, for
    /// certificate rotation (ASP.NET's `UnprotectKeysWithAnyCertificate`). A key encrypted to
    /// a certificate not given here is listed as unreadable, with the certificate's
    /// thumbprint and subject.
    #[cfg(feature = "certificates")]
    pub fn unprotect_keys_with_any_certificate(
        mut self,
        certificates: impl IntoIterator<Item = Certificate>,
    ) -> Self {
        self.certificates.extend(certificates);
        self
    }

    /// Encrypts new master keys under the key-encryption key `kek` (AES-256-GCM); it also
    /// decrypts. ASP.NET Core nodes cannot read this form without a custom decryptor.
    pub fn protect_keys_with_kek(mut self, kek: Kek) -> Self {
        self.key_encryptor = Some(Arc::new(KekXmlEncryptor::new(kek.clone())));
        self.keks.push(kek);
        self
    }

    /// Older key-encryption keys that may still decrypt keys written under them.
    pub fn unprotect_keys_with_keks(mut self, keks: impl IntoIterator<Item = Kek>) -> Self {
        for kek in keks {
            self.keks.push(kek);
        }
        self
    }

    /// Encrypts new master keys with a custom encryptor (a cloud KMS, Vault, …). Register
    /// its decryptor with [`unprotect_keys_with`](Self::unprotect_keys_with).
    pub fn protect_keys_with(mut self, encryptor: Arc<dyn XmlEncryptor>) -> Self {
        self.key_encryptor = Some(encryptor);
        self
    }

    /// Adds a custom decryptor, chosen for `<encryptedSecret>` elements whose
    /// `decryptorType` it names. It takes precedence over a built-in one of the same type.
    pub fn unprotect_keys_with(mut self, decryptor: Arc<dyn XmlDecryptor>) -> Self {
        self.key_decryptors.push(decryptor);
        self
    }

    /// Stores new master keys unencrypted without the warning logged otherwise (once per
    /// process): for stores that are themselves encrypted and access-controlled, and tests.
    pub fn allow_unencrypted_keys(mut self) -> Self {
        self.allow_unencrypted_keys = true;
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
        let mut decryptors = self.key_decryptors;
        decryptors.push(Arc::new(self.keks));
        // Always present, so a key encrypted to a certificate this node lacks is reported with
        // the certificate's thumbprint and subject.
        #[cfg(feature = "certificates")]
        decryptors.push(Arc::new(CertificateXmlDecryptor::new(self.certificates)));
        let config = ManagerConfig {
            application_name: self.application_name.clone(),
            policy: self.policy,
            algorithm: self.algorithm,
            store_timeout: self.store_timeout,
            unknown_key_refresh_interval: self.unknown_key_refresh_interval,
            protection: KeyProtection::new(
                self.key_encryptor,
                decryptors,
                self.allow_unencrypted_keys,
            ),
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
