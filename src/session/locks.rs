//! One commit at a time per session key within this process.
//!
//! Concurrent requests of one session on one node would otherwise race their
//! compare-and-swaps against each other and retry many times. Serializing them locally
//! leaves only cross-node conflicts, and the entry the previous local commit wrote is
//! handed to the next one as its base, so a local queue of commits costs no extra read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use super::store::SessionEntry;

type Slot = Arc<AsyncMutex<Handoff>>;

/// What a commit leaves to the next local commit of the same key.
#[derive(Debug, Default)]
pub(crate) struct Handoff {
    /// The entry it wrote.
    pub(crate) written: Option<SessionEntry>,
    /// It lost a compare-and-swap to another node: the next one should let that node's
    /// retry through first.
    pub(crate) contended: bool,
}

#[derive(Debug, Default)]
pub(crate) struct KeyedLocks {
    map: Mutex<HashMap<String, Slot>>,
}

/// Holds the lock of one key.
pub(crate) struct KeyGuard<'a> {
    locks: &'a KeyedLocks,
    key: &'a str,
    slot: Slot,
    guard: Option<OwnedMutexGuard<Handoff>>,
}

impl KeyedLocks {
    pub(crate) async fn lock<'a>(&'a self, key: &'a str) -> KeyGuard<'a> {
        let slot = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_owned()).or_default().clone()
        };
        let guard = slot.clone().lock_owned().await;
        KeyGuard {
            locks: self,
            key,
            slot,
            guard: Some(guard),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

impl KeyGuard<'_> {
    /// What the previous local commit of this key left, if this one was queued behind it.
    pub(crate) fn handoff(&mut self) -> &mut Handoff {
        self.guard.as_mut().expect("held until drop")
    }
}

impl Drop for KeyGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.locks.map.lock().unwrap_or_else(|e| e.into_inner());
        self.guard = None;
        // Only the map and this guard hold the slot: nobody waits, forget the key. Clones
        // are taken under the map lock, so the count cannot grow while we look.
        if Arc::strong_count(&self.slot) == 2 {
            map.remove(self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_dropped_when_nobody_waits() {
        let locks = Arc::new(KeyedLocks::default());
        {
            let mut g = locks.lock("a").await;
            g.handoff().contended = true;
            assert_eq!(locks.len(), 1);
        }
        assert_eq!(locks.len(), 0);
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let locks = locks.clone();
                tokio::spawn(async move {
                    let _g = locks.lock("b").await;
                    tokio::task::yield_now().await;
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(locks.len(), 0);
    }
}
