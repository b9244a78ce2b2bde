//! `SIGHUP` re-reads the secrets file (feature `sighup`, unix).

use std::path::PathBuf;

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;

use crate::auth::FwAuth;
use crate::refusal::{Event, Note};

impl FwAuth {
    /// On every `SIGHUP`, re-reads the secrets file at `path` and puts it in force
    /// ([`reload_secrets_file`](Self::reload_secrets_file): the ring and the full API key
    /// at once, while requests continue; a file that does not read or parse keeps the
    /// secrets in force). Each reload is reported
    /// ([`Event::SecretsReloaded`], [`Event::SecretsNotReloaded`]). Without a path the
    /// signal is only noted ([`Note::NothingToReload`]): it no longer ends the process.
    ///
    /// Must be called inside a tokio runtime; the task runs until it is aborted.
    pub fn reload_on_sighup(&self, path: Option<PathBuf>) -> std::io::Result<JoinHandle<()>> {
        let mut hangups = signal(SignalKind::hangup())?;
        let auth = self.clone();
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match &path {
                    // The outcome is reported through the event hook.
                    Some(path) => {
                        let _ = auth.reload_secrets_file(path);
                    }
                    None => auth.emit(&Event::Note {
                        route: "-",
                        note: Note::NothingToReload,
                    }),
                }
            }
        }))
    }
}
