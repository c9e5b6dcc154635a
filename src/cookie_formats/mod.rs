//! ASP.NET Core's cookie formats, with no I/O: the chunked cookie layout
//! (`ChunkingCookieManager`), the authentication ticket (`TicketSerializer` format 5) and the
//! antiforgery tokens. The web layer ([`crate::cookies`], feature `cookies`) protects and
//! transports them; `keyring-formats/` describes them byte by byte.
//!
//! Every decoder is strict and total: truncated input, huge counts, bad UTF-8, an unknown
//! version or trailing bytes give a typed error, never a panic, and no count makes it
//! allocate more than the input's size.

pub mod antiforgery;
mod binary;
pub mod chunking;
pub mod ticket;

pub use binary::BinaryError;
