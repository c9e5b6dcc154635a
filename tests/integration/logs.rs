//! A minimal `tracing` subscriber that keeps the warnings and errors emitted on this thread.
#![allow(dead_code)] // each feature set's tests use a subset

use std::fmt::Write;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Collects every WARN (or more severe) event: its level, and its message followed by its
/// other fields as ` name=value`.
#[derive(Clone, Default)]
pub struct Warnings(Arc<Mutex<Vec<(Level, String)>>>);

impl Warnings {
    /// The warnings and errors so far.
    pub fn messages(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// The errors so far.
    pub fn errors(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(l, _)| *l == Level::ERROR)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

struct Fields<'a> {
    message: &'a mut String,
    rest: &'a mut String,
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.message = format!("{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for Warnings {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= Level::WARN
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let (mut message, mut rest) = (String::new(), String::new());
        event.record(&mut Fields {
            message: &mut message,
            rest: &mut rest,
        });
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), message + &rest));
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
