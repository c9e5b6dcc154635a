//! `tracing` subscribers that keep events so tests can check what the logs say (and do not
//! say):
//!
//! - [`Warnings`]: WARN and ERROR events (message, then the other fields), as a thread's
//!   default subscriber (`tracing::subscriber::set_default`), for one test.
//! - [`start`] / [`since`]: every debug event of this crate, process-wide, as
//!   ` field=value` text, for a test binary that installs nothing else.

use std::fmt::Write;
use std::sync::{Arc, Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// One captured event.
#[derive(Clone, Debug)]
struct Captured {
    level: Level,
    /// The `message` field.
    message: String,
    /// The other fields, ` name=value` each.
    others: String,
    /// Every field, ` name=value` each.
    fields: String,
}

struct Visitor<'a>(&'a mut Captured);

impl Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.message = format!("{value:?}");
        } else {
            let _ = write!(self.0.others, " {}={value:?}", field.name());
        }
        let _ = write!(self.0.fields, " {}={value:?}", field.name());
    }
}

/// A subscriber keeping the events at `max_level` or more severe whose target starts with
/// `target`.
#[derive(Clone)]
struct Recorder {
    max_level: Level,
    target: &'static str,
    events: Arc<Mutex<Vec<Captured>>>,
}

impl Subscriber for Recorder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Thread-local subscribers come and go: ask `enabled` every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max_level && metadata.target().starts_with(self.target)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut captured = Captured {
            level: *event.metadata().level(),
            message: String::new(),
            others: String::new(),
            fields: String::new(),
        };
        event.record(&mut Visitor(&mut captured));
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(captured);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Collects every WARN (or more severe) event; install it with
/// `tracing::subscriber::set_default(warnings.subscriber())`.
#[derive(Clone)]
pub struct Warnings(Recorder);

impl Default for Warnings {
    fn default() -> Self {
        Self(Recorder {
            max_level: Level::WARN,
            target: "",
            events: Arc::default(),
        })
    }
}

impl Warnings {
    /// The subscriber to install.
    pub fn subscriber(&self) -> impl Subscriber + Send + Sync + 'static {
        self.0.clone()
    }

    /// The warnings and errors so far: the message, then the other fields as ` name=value`.
    pub fn messages(&self) -> Vec<String> {
        self.texts(Level::WARN)
    }

    /// The errors so far, in the same form.
    pub fn errors(&self) -> Vec<String> {
        self.texts(Level::ERROR)
    }

    fn texts(&self, at_least: Level) -> Vec<String> {
        let events = self.0.events.lock().unwrap_or_else(|e| e.into_inner());
        events
            .iter()
            .filter(|e| e.level <= at_least)
            .map(|e| format!("{}{}", e.message, e.others))
            .collect()
    }
}

fn global() -> &'static Recorder {
    static GLOBAL: OnceLock<Recorder> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let recorder = Recorder {
            max_level: Level::DEBUG,
            target: "data_protection",
            events: Arc::default(),
        };
        tracing::subscriber::set_global_default(recorder.clone())
            .expect("no other global subscriber");
        recorder
    })
}

/// Starts capturing this crate's debug events process-wide (idempotent); returns the index
/// of the next event.
pub fn start() -> usize {
    global()
        .events
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len()
}

/// The events captured since `from` (from every test of this binary), ` field=value` each.
pub fn since(from: usize) -> Vec<String> {
    let events = global().events.lock().unwrap_or_else(|e| e.into_inner());
    events
        .get(from..)
        .unwrap_or_default()
        .iter()
        .map(|e| e.fields.clone())
        .collect()
}
