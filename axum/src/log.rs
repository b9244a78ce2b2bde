//! [`EventLog`]: a ready-made event sink that writes one line per event to stderr, or
//! keeps the lines in memory for a test to read back.

use std::sync::{Arc, Mutex, PoisonError};

use crate::refusal::Event;

/// Lines for a server's log: each [`Event`] as its one-line [`Display`](std::fmt::Display)
/// form (no token, no secret), after an optional prefix; written to stderr, or kept in
/// memory ([`capturing`](Self::capturing)) so a test can check what was reported and that
/// nothing secret was.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use fwtoken_axum::{EventLog, FwAuth};
/// let log = EventLog::capturing().prefix("my-server: ");
/// let store = fwtoken_store::Store::memory(Default::default()).await?;
/// let ring = fwtoken::KeyRing::new(fwtoken::Secret::from_text("the site's secret")?);
/// let auth = FwAuth::builder(ring, store).on_event(log.hook()).build()?;
/// assert!(log.lines().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct EventLog {
    prefix: Arc<str>,
    captured: Option<Arc<Mutex<Vec<String>>>>,
}

impl EventLog {
    /// Lines go to stderr.
    pub fn stderr() -> Self {
        Self::default()
    }

    /// Lines are kept in memory for [`lines`](Self::lines).
    pub fn capturing() -> Self {
        Self {
            captured: Some(Arc::default()),
            ..Self::default()
        }
    }

    /// Starts every line with `prefix` (`"my-server: "`, say).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The lines kept so far (empty unless capturing).
    pub fn lines(&self) -> Vec<String> {
        self.captured
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default()
    }

    /// Writes the line for one event.
    pub fn record(&self, event: &Event<'_>) {
        let line = format!("{}{event}", self.prefix);
        match &self.captured {
            Some(c) => c.lock().unwrap_or_else(PoisonError::into_inner).push(line),
            None => eprintln!("{line}"),
        }
    }

    /// The hook for [`FwAuthBuilder::on_event`](crate::FwAuthBuilder::on_event).
    pub fn hook(&self) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
        let log = self.clone();
        move |event| log.record(event)
    }
}
