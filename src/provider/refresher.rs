//! The background task that reloads the ring and creates due keys.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::keyring::manager::KeyManager;

/// Reloads periodically (creating due keys) and whenever woken, retrying failures sooner.
pub(super) async fn refresh_loop(
    manager: Weak<KeyManager>,
    wake: Arc<tokio::sync::Notify>,
    generate: bool,
) {
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
