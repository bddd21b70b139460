//! Routing a dynamic plugin's `tracing` events to the host.
//!
//! A `cdylib` carries its own copy of `tracing`'s globals, so events a plugin emits would vanish.
//! [`install`] (called by the exported `init`) sets, inside the plugin library, a subscriber that
//! forwards every event to the host's `log` callback, and a panic hook that logs instead of
//! printing to stderr (the guard reports the panic as an error anyway).

use crate::abi::HostCtx;
use std::fmt::Write as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Maps a `tracing` level to the ABI's scale (1 error … 5 trace).
pub fn level_number(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

struct Forward {
    host: HostCtx,
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={}", field.name(), value);
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.insert_str(0, &format!("{value:?}"));
        } else {
            let _ = write!(self.0, " {}={:?}", field.name(), value);
        }
    }
}

impl<S: Subscriber> Layer<S> for Forward {
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        level_number(metadata.level()) <= self.host.max_level
    }
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut message = Message::default();
        event.record(&mut message);
        let meta = event.metadata();
        (self.host.log)(
            level_number(meta.level()),
            meta.target().into(),
            message.0.as_str().into(),
        );
    }
}

/// Installs the forwarding subscriber and panic hook in this (plugin) library. Idempotent.
pub fn install(host: HostCtx) {
    let subscriber = tracing_subscriber::registry().with(Forward { host });
    // Fails only if already installed (the library was initialised before): keep the first.
    let _ = tracing::subscriber::set_global_default(subscriber);
    let log = host.log;
    std::panic::set_hook(Box::new(move |info| {
        let text = format!("panic: {info}");
        log(4, "xnas::panic".into(), text.as_str().into());
    }));
}
