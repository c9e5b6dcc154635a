//! Errors and exit codes: 1 when the operation failed, 2 for usage or configuration errors.

use std::process::ExitCode;

use data_protection::{Error, StoreErrorKind};

/// A failed command: what to print on stderr, and the exit code.
#[derive(Debug)]
pub(crate) struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// Usage or configuration error (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }

    /// The operation failed (exit 1).
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// Prints the message and gives the exit code.
    pub(crate) fn report(self) -> ExitCode {
        eprintln!("dpkeys: error: {}", self.message);
        ExitCode::from(self.code)
    }
}

impl From<data_protection::StoreError> for Failure {
    fn from(e: data_protection::StoreError) -> Self {
        Error::Store(e).into()
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Config(msg) => Self::usage(msg),
            Error::Store(store) => {
                let hint = match store.kind() {
                    StoreErrorKind::Unavailable | StoreErrorKind::Timeout => {
                        "check that the store is running and reachable from here, and the URL"
                    }
                    StoreErrorKind::Denied => "check the credentials and permissions",
                    StoreErrorKind::Unsupported => "this store does not support the operation",
                    StoreErrorKind::Corrupt => "inspect the store's content; nothing was changed",
                    _ => "see the message above",
                };
                Self::failed(format!("{store} ({hint})"))
            }
            Error::NoDefaultKey => Self::failed(
                "the key ring has no key that may protect: run `dpkeys ensure` (or `dpkeys rotate \
                 --activate-now`) first",
            ),
            Error::InvalidPayload => Self::failed(
                "the token could not be unprotected: it is malformed, was made with other \
                 purposes or another application name, or its key is unknown or revoked \
                 (run with -vv for the reason)",
            ),
            Error::PayloadExpired(at) => Self::failed(format!(
                "the token expired at {}",
                crate::units::format_date(at)
            )),
            Error::UnknownKey(id) => Self::failed(format!(
                "no key {id} in the ring (run `dpkeys list` to see the keys)"
            )),
            other => Self::failed(other.to_string()),
        }
    }
}
