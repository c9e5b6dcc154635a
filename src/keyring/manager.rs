//! Loads the ring from its store, keeps the current snapshot, creates and revokes keys.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration as StdDuration, Instant};

use arc_swap::ArcSwap;
use time::OffsetDateTime;
use tokio::sync::Notify;

use super::health::ReloadHealth;
use super::load::{LoadCache, Loaded};
use super::policy::{KeyNeed, Policy};
use super::problems::RingProblem;
use super::ring::KeyRing;
use super::slot::slot_id;
use crate::algorithm::Algorithm;
use crate::clock::Clock;
use crate::elements::{self, Revocation};
use crate::error::{Error, Result, StoreError, StoreErrorKind};
use crate::key_id::KeyId;
use crate::metrics;
use crate::random::RandomSource;
use crate::repository::{StoreOutcome, XmlRepository};
use crate::secret::Secret;
use crate::xml::{XmlElement, datetime};
use crate::xml_encryption::KeyProtection;

/// Master key length: a 512-bit key-derivation key, whatever the algorithm.
const MASTER_KEY_LEN: usize = 64;

/// The longest the refresher sleeps, however long the configured interval.
const MAX_REFRESH_DELAY: StdDuration = StdDuration::from_secs(7 * 24 * 3600);

/// Settings of a [`KeyManager`].
#[derive(Debug, Clone)]
pub(crate) struct ManagerConfig {
    /// Mixed into the ids of keys the rules call for, so rings of different applications
    /// never share ids.
    pub(crate) application_name: String,
    pub(crate) policy: Policy,
    pub(crate) algorithm: Algorithm,
    pub(crate) store_timeout: StdDuration,
    pub(crate) unknown_key_refresh_interval: StdDuration,
    /// How master keys are encrypted when written and decrypted when read.
    pub(crate) protection: KeyProtection,
}

/// What [`DataProtection::ensure_key`](crate::provider::DataProtection::ensure_key) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnsureOutcome {
    /// The key this node created, if it created one.
    pub created: Option<KeyId>,
    /// A key was due but another node created it first; this node adopted it.
    pub adopted: Option<KeyId>,
    /// A key was due but this node may not create keys.
    pub generation_disabled: bool,
    /// A key was due but not created: a revocation of every key created before this (future)
    /// date is in force, so a new key would be revoked at once.
    pub blocked_by_revocation: Option<OffsetDateTime>,
    /// A key was due but not created: the key the rules pick (as default, or as the
    /// successor) cannot be read by this node, and creating another would fork the ring.
    pub blocked_by_unreadable: Option<KeyId>,
    /// The default key after the operation.
    pub default_key: Option<KeyId>,
}

/// Why the ring is reloaded (a metrics label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReloadCause {
    /// Building the provider.
    Startup,
    /// The background refresher (its interval, or a wake-up).
    Background,
    /// A payload named a key the ring lacks.
    UnknownKey,
    /// The application asked (`refresh`, `ensure_key`).
    Manual,
    /// Key management (create, revoke, prune, check).
    Maintenance,
}

impl ReloadCause {
    fn as_str(self) -> &'static str {
        match self {
            Self::Startup => "startup",
            Self::Background => "periodic",
            Self::UnknownKey => "unknown_key",
            Self::Manual => "manual",
            Self::Maintenance => "maintenance",
        }
    }
}

#[derive(Default)]
struct ReloadState {
    last_start: Option<Instant>,
    /// Index of the newest reload that completed.
    completed: u64,
}

pub(crate) struct KeyManager {
    repo: Arc<dyn XmlRepository>,
    config: ManagerConfig,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    ring: ArcSwap<KeyRing>,
    cache: LoadCache,
    pub(crate) health: ReloadHealth,
    reload_lock: tokio::sync::Mutex<ReloadState>,
    reloads_started: AtomicU64,
    pub(crate) wake: Arc<Notify>,
    /// Every key id this manager has seen in the ring: never derived again for a new key.
    seen_ids: std::sync::Mutex<HashSet<KeyId>>,
}

impl KeyManager {
    pub(crate) fn new(
        repo: Arc<dyn XmlRepository>,
        config: ManagerConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn RandomSource>,
    ) -> Self {
        let now = clock.now();
        Self {
            ring: ArcSwap::from_pointee(KeyRing::build(&[], &config.policy, now)),
            repo,
            config,
            clock,
            random,
            cache: LoadCache::default(),
            health: ReloadHealth::default(),
            reload_lock: tokio::sync::Mutex::new(ReloadState::default()),
            reloads_started: AtomicU64::new(0),
            wake: Arc::new(Notify::new()),
            seen_ids: std::sync::Mutex::default(),
        }
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub(crate) fn random(&self) -> &dyn RandomSource {
        &*self.random
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.config.policy
    }

    pub(crate) fn shared_clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    pub(crate) fn shared_random(&self) -> Arc<dyn RandomSource> {
        self.random.clone()
    }

    pub(crate) fn repository(&self) -> &Arc<dyn XmlRepository> {
        &self.repo
    }

    /// The current ring, its default re-resolved in memory when time has moved past it.
    pub(crate) fn current(&self) -> Arc<KeyRing> {
        arc_swap::Guard::into_inner(self.snapshot())
    }

    /// [`current`](Self::current) for the hot path: a borrowed snapshot that touches no
    /// shared reference count (arc-swap's per-thread debt slots), so threads protecting at
    /// once do not contend on one cache line. Keep it short-lived.
    pub(crate) fn snapshot(&self) -> arc_swap::Guard<Arc<KeyRing>> {
        let ring = self.ring.load();
        if !ring.is_stale_at_nanos(self.clock.unix_nanos()) {
            return ring;
        }
        let now = self.clock.now();
        let fresh = Arc::new(ring.re_resolved(&self.config.policy, now));
        self.ring.store(fresh.clone());
        // The default moved on: the refresher checks whether a successor is due.
        self.wake.notify_one();
        arc_swap::Guard::from_inner(fresh)
    }

    /// Asks the background refresher to reload soon (rate-limited). Never blocks.
    pub(crate) fn request_refresh(&self) {
        self.wake.notify_one();
    }

    /// Reloads from the store, replacing the current ring. Serialized with other reloads.
    pub(crate) async fn reload(&self, cause: ReloadCause) -> Result<Arc<KeyRing>> {
        let mut state = self.reload_lock.lock().await;
        self.reload_locked(&mut state, cause).await
    }

    async fn reload_locked(
        &self,
        state: &mut ReloadState,
        cause: ReloadCause,
    ) -> Result<Arc<KeyRing>> {
        self.reload_locked_with_elements(state, cause)
            .await
            .map(|(ring, _)| ring)
    }

    /// Reloads, also returning each stored element's name (as the store gave it) and its
    /// parsed form, from the same read (for maintenance: pruning).
    pub(crate) async fn reload_with_elements(
        &self,
        cause: ReloadCause,
    ) -> Result<(Arc<KeyRing>, Vec<(Option<String>, Arc<Loaded>)>)> {
        let mut state = self.reload_lock.lock().await;
        self.reload_locked_with_elements(&mut state, cause).await
    }

    async fn reload_locked_with_elements(
        &self,
        state: &mut ReloadState,
        cause: ReloadCause,
    ) -> Result<(Arc<KeyRing>, Vec<(Option<String>, Arc<Loaded>)>)> {
        let result = self.load_from_store(state).await;
        metrics::ring_reload(cause.as_str(), result.is_ok());
        self.health.record(self.clock.now(), result.as_ref().err());
        result
    }

    async fn load_from_store(
        &self,
        state: &mut ReloadState,
    ) -> Result<(Arc<KeyRing>, Vec<(Option<String>, Arc<Loaded>)>)> {
        let index = self.reloads_started.fetch_add(1, Ordering::SeqCst) + 1;
        state.last_start = Some(Instant::now());
        let stored = self.timed("read", self.repo.get_all_elements()).await?;
        let elements = match self.cache.load_all(&stored, &self.config.protection) {
            Ok(elements) => elements,
            Err(e) => {
                tracing::error!(
                    store = %self.repo.describe(),
                    "the key ring cannot be loaded, the ring loaded before stays in use and no \
                     key is created until this is fixed: {e}"
                );
                return Err(e);
            }
        };
        let named = stored
            .iter()
            .map(|s| s.name.clone())
            .zip(elements.iter().cloned())
            .collect();
        let ring = Arc::new(KeyRing::build(
            &elements,
            &self.config.policy,
            self.clock.now(),
        ));
        for problem in ring.problems() {
            match problem {
                RingProblem::UnreadableDefaultKey { .. } => {
                    tracing::error!(store = %self.repo.describe(), "{problem}");
                }
                _ => tracing::warn!(store = %self.repo.describe(), "{problem}"),
            }
        }
        self.remember_ids(&elements);
        self.ring.store(ring.clone());
        state.completed = index;
        Ok((ring, named))
    }

    /// Adds the key ids of `elements` (readable or not) to those never derived again.
    fn remember_ids(&self, elements: &[Arc<Loaded>]) {
        let mut seen = self.seen_ids.lock().unwrap_or_else(|e| e.into_inner());
        for element in elements {
            match &**element {
                Loaded::Key(k) => {
                    seen.insert(k.id);
                }
                Loaded::Skipped(RingProblem::UnreadableElement { error, .. }) => {
                    if let Some(id) = error.key_id() {
                        seen.insert(id);
                    }
                }
                _ => {}
            }
        }
    }

    /// Reloads because a payload named a key the ring lacks: waits for a reload that started
    /// after this call, starting one if none is running, at most one per configured interval.
    pub(crate) async fn reload_for_unknown_key(&self, id: KeyId) -> Arc<KeyRing> {
        let ticket = self.reloads_started.load(Ordering::SeqCst);
        let mut state = self.reload_lock.lock().await;
        let ring = self.ring.load_full();
        if state.completed > ticket || ring.get(&id).is_some() {
            return ring;
        }
        if let Some(next) = state
            .last_start
            .and_then(|last| last.checked_add(self.config.unknown_key_refresh_interval))
        {
            tokio::time::sleep_until(next.into()).await;
        }
        match self
            .reload_locked(&mut state, ReloadCause::UnknownKey)
            .await
        {
            Ok(ring) => ring,
            Err(e) => {
                tracing::warn!("key ring reload for an unknown key failed: {e}");
                self.ring.load_full()
            }
        }
    }

    /// Reloads, then creates a key if the rules call for one and `generate` allows it.
    pub(crate) async fn ensure(&self, generate: bool, cause: ReloadCause) -> Result<EnsureOutcome> {
        let mut state = self.reload_lock.lock().await;
        let ring = self.reload_locked(&mut state, cause).await?;
        let now = self.clock.now();
        let mut outcome = EnsureOutcome {
            created: None,
            adopted: None,
            generation_disabled: false,
            blocked_by_revocation: None,
            blocked_by_unreadable: None,
            default_key: ring.default_key_id(),
        };
        let plan = match self.config.policy.key_needed(ring.facts(), now) {
            KeyNeed::Nothing => return Ok(outcome),
            KeyNeed::BlockedByUnreadable(id) => {
                let problem = ring.problem_of(id).map(ToString::to_string);
                tracing::error!(
                    key = %id,
                    problem = problem.as_deref().unwrap_or("unknown"),
                    "a key is due, but the key the rules pick cannot be read by this node: not \
                     creating another (it would fork the ring)"
                );
                outcome.blocked_by_unreadable = Some(id);
                metrics::key_creation("blocked_by_unreadable");
                return Ok(outcome);
            }
            KeyNeed::Create(plan) => plan,
        };
        if let Some(date) = ring.revoked_before.filter(|d| *d > now) {
            tracing::warn!(
                revoked_before = %date,
                "a key is due, but every key created before that date is revoked: not creating one until then"
            );
            outcome.blocked_by_revocation = Some(date);
            metrics::key_creation("blocked_by_revocation");
            return Ok(outcome);
        }
        if !generate {
            outcome.generation_disabled = true;
            metrics::key_creation("generation_disabled");
            if ring.protect_key().is_none() {
                tracing::warn!("the key ring has no usable key and this node may not create one");
            }
            return Ok(outcome);
        }
        // Within the store timeout like every store call: a hung mount must not hold the
        // reload lock. No scope, no key.
        let scope = self
            .timed("scope", async { Ok(self.repo.ring_scope().await) })
            .await?;
        let mut id = slot_id(&self.config.application_name, &scope, &plan, &ring);
        if ring.get(&id).is_none()
            && self
                .seen_ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&id)
        {
            // The ring held this id once and lost it (elements deleted by hand): a new key
            // under an old id would meet nodes that cached the old key.
            let random = KeyId::new_random(&*self.random);
            tracing::warn!(key = %id, replacement = %random, "the derived key id was in this ring before; using a random id");
            id = random;
        }
        let (id, created) = match self
            .create_key_locked(id, plan.activation, plan.expiration)
            .await?
        {
            StoreOutcome::Created => (id, true),
            StoreOutcome::AlreadyExists => (id, false),
        };
        let mut ring = self.reload_locked(&mut state, cause).await?;
        if created {
            tracing::info!(key = %id, activation = %plan.activation, "created a new key");
            outcome.created = Some(id);
            metrics::key_creation("created");
        } else if let KeyNeed::Create(_) = self
            .config
            .policy
            .key_needed(ring.facts(), self.clock.now())
        {
            // The winner's key does not satisfy the rules (the slot holds a damaged file, say):
            // fall back to a random id.
            let id = KeyId::new_random(&*self.random);
            tracing::warn!(key = %id, "the deterministic key slot is unusable; creating a key with a random id");
            self.create_key_locked(id, plan.activation, plan.expiration)
                .await?;
            ring = self.reload_locked(&mut state, cause).await?;
            outcome.created = Some(id);
            metrics::key_creation("created");
        } else {
            tracing::info!(key = %id, "another node created the due key first; adopted it");
            outcome.adopted = Some(id);
            metrics::key_creation("adopted");
        }
        outcome.default_key = ring.default_key_id();
        Ok(outcome)
    }

    /// [`ensure`](Self::ensure), but no sooner than the unknown-key interval after the
    /// previous reload.
    pub(crate) async fn ensure_rate_limited(&self, generate: bool) -> Result<EnsureOutcome> {
        let last = self.reload_lock.lock().await.last_start;
        if let Some(next) =
            last.and_then(|last| last.checked_add(self.config.unknown_key_refresh_interval))
        {
            tokio::time::sleep_until(next.into()).await;
        }
        self.ensure(generate, ReloadCause::Background).await
    }

    /// Creates a key now (manual rotation) with a random id.
    pub(crate) async fn create_key(
        &self,
        activation: OffsetDateTime,
        expiration: OffsetDateTime,
    ) -> Result<KeyId> {
        if expiration <= activation {
            return Err(Error::Config("a key must expire after it activates".into()));
        }
        check_date("activation", activation)?;
        check_date("expiration", expiration)?;
        let id = KeyId::new_random(&*self.random);
        let mut state = self.reload_lock.lock().await;
        self.create_key_locked(id, activation, expiration).await?;
        self.reload_locked(&mut state, ReloadCause::Maintenance)
            .await?;
        Ok(id)
    }

    async fn create_key_locked(
        &self,
        id: KeyId,
        activation: OffsetDateTime,
        expiration: OffsetDateTime,
    ) -> Result<StoreOutcome> {
        let now = datetime::truncate_to_ticks(self.clock.now());
        let activation = datetime::truncate_to_ticks(activation);
        let expiration = datetime::truncate_to_ticks(expiration);
        let master = Secret::random(MASTER_KEY_LEN, &*self.random);
        let (mut element, name) = elements::key_element(
            id,
            now.min(activation),
            activation,
            expiration,
            self.config.algorithm,
            &master,
        );
        self.config
            .protection
            .encrypt_in_place(&mut element, &*self.random)?;
        self.store(&element, &name).await
    }

    /// Revokes one key.
    pub(crate) async fn revoke_key(&self, id: KeyId, reason: &str) -> Result<()> {
        self.write_revocation(Revocation::Key { id }, reason).await
    }

    /// Revokes every key created strictly before `date`.
    pub(crate) async fn revoke_all_created_before(
        &self,
        date: OffsetDateTime,
        reason: &str,
    ) -> Result<()> {
        check_date("revocation date", date)?;
        self.write_revocation(Revocation::CreatedBefore { date }, reason)
            .await
    }

    async fn write_revocation(&self, revocation: Revocation, reason: &str) -> Result<()> {
        let mut state = self.reload_lock.lock().await;
        let now = datetime::truncate_to_ticks(self.clock.now());
        let (element, name) = elements::revocation_element(revocation, now, reason);
        // A second revocation of the same key is already in force; nothing to write.
        self.store(&element, &name).await?;
        self.reload_locked(&mut state, ReloadCause::Maintenance)
            .await?;
        Ok(())
    }

    async fn store(&self, element: &XmlElement, name: &str) -> Result<StoreOutcome> {
        Ok(self
            .timed("write", self.repo.store_element(element, name))
            .await?)
    }

    /// Deletes elements from the store (within the store timeout), then reloads.
    pub(crate) async fn delete_elements(&self, names: &[String]) -> Result<()> {
        self.timed("delete", self.repo.delete_elements(names))
            .await?;
        self.reload(ReloadCause::Maintenance).await.map(|_| ())
    }

    /// Runs one store operation within the store timeout, and counts it.
    async fn timed<T>(
        &self,
        operation: &'static str,
        op: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = match tokio::time::timeout(self.config.store_timeout, op).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                self.repo.describe(),
                format!("no answer within {:?}", self.config.store_timeout),
            )),
        };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.kind().as_str(),
        };
        metrics::store_operation(self.repo.kind(), operation, outcome, started.elapsed());
        result
    }

    /// Delay before the next periodic refresh: the refresh interval less up to 20 %.
    pub(crate) fn next_refresh_delay(&self) -> StdDuration {
        let mut b = [0u8; 1];
        self.random.fill(&mut b);
        let interval = self.config.policy.refresh_interval;
        let jitter = interval * (f64::from(b[0]) / 255.0 * 0.2);
        StdDuration::try_from(interval - jitter)
            .unwrap_or(StdDuration::from_secs(60))
            .min(MAX_REFRESH_DELAY)
    }
}

/// Dates written into the ring must be ones .NET can read back (years 1 to 9999 in UTC).
fn check_date(what: &str, date: OffsetDateTime) -> Result<()> {
    if datetime::in_dotnet_range(date) {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "the {what} {date} is outside the range of .NET dates (years 1 to 9999 in UTC)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::random::SystemRandom;
    use crate::repository::MemoryRepository;

    /// A damaged element squatting on the deterministic slot must not leave the ring without
    /// a key, also with a clock that moves between the two decisions.
    #[tokio::test]
    async fn a_damaged_slot_falls_back_to_a_random_id() {
        let repo: Arc<dyn XmlRepository> = Arc::new(MemoryRepository::new());
        let config = ManagerConfig {
            application_name: "test".into(),
            policy: Policy::default(),
            algorithm: Algorithm::default(),
            store_timeout: StdDuration::from_secs(5),
            unknown_key_refresh_interval: StdDuration::from_millis(1),
            protection: KeyProtection::default(),
        };
        let manager = KeyManager::new(
            repo.clone(),
            config,
            Arc::new(SystemClock),
            Arc::new(SystemRandom),
        );
        let empty = manager.current();
        let KeyNeed::Create(plan) = manager
            .config
            .policy
            .key_needed(empty.facts(), manager.clock.now())
        else {
            panic!("an empty ring needs a key")
        };
        let slot = slot_id("test", &repo.ring_scope().await, &plan, &empty);
        let damaged = XmlElement::new("key").attr("id", slot.to_string());
        repo.store_element(&damaged, &format!("key-{slot}"))
            .await
            .unwrap();
        // A <key> without dates is skipped, so the ring stays empty and computes the same slot.
        let outcome = manager.ensure(true, ReloadCause::Manual).await.unwrap();
        let created = outcome
            .created
            .expect("a key is created despite the squatter");
        assert_ne!(created, slot);
        assert_eq!(outcome.adopted, None);
        let ring = manager.current();
        assert!(
            ring.default_key_id().is_some(),
            "a usable default key exists"
        );
        assert_eq!(
            manager
                .config
                .policy
                .key_needed(ring.facts(), manager.clock.now()),
            KeyNeed::Nothing
        );
    }
}
