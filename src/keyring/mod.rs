//! The key ring: keys as loaded, the default-key rules, the snapshot they resolve, and the
//! manager that keeps the ring in step with its store.

pub(crate) mod health;
mod key;
pub(crate) mod load;
pub(crate) mod manager;
pub(crate) mod policy;
pub(crate) mod problems;
pub(crate) mod ring;
mod slot;

pub use health::RefreshFailure;
pub use manager::EnsureOutcome;
pub use problems::RingProblem;
pub use ring::{KeyInfo, KeyStatus};
