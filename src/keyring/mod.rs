//! The key ring: keys, revocations, default-key rules, and the manager that keeps the ring
//! in step with its store.

mod descriptor;
mod elements;
pub(crate) use elements::{Element, Revocation, friendly_name_of};
pub(crate) mod manager;
pub(crate) mod policy;
pub(crate) mod ring;

pub use descriptor::KeyProblem;
pub use manager::EnsureOutcome;
pub use ring::{KeyInfo, KeyStatus};

/// Classifies one parsed element (for the fuzz targets).
pub(crate) fn read_element(element: &crate::xml::XmlElement) -> bool {
    elements::read(element).is_ok()
}
