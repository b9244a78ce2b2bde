//! The dedicated `LISTEN` connection: a notification is a wake-up, the version row is the
//! truth.

use std::future::poll_fn;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::{AsyncMessage, Client, Connection};

use crate::backend::VersionSink;
use crate::error::StoreError;

use super::NOTIFY_CHANNEL;
use crate::model::version_u64;

/// Runs one `LISTEN` connection until it ends: after `LISTEN`, reads the version (a change
/// committed while no connection listened is applied now), then reads it again after
/// every notification.
pub(super) async fn listen<S, T>(
    client: Client,
    mut conn: Connection<S, T>,
    sink: &VersionSink,
) -> Result<(), StoreError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let driver = tokio::spawn(async move {
        loop {
            match poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    if tx.send(()).is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            }
        }
    });
    let result: Result<(), StoreError> = async {
        client
            .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
            .await?;
        let read = client
            .prepare("SELECT version FROM fwtoken_version WHERE id = 1")
            .await?;
        loop {
            let v: i64 = client.query_one(&read, &[]).await?.try_get(0)?;
            sink(version_u64(v)?);
            // A notification is only a wake-up (it may come from another schema on the
            // same channel); the version row is the truth. Coalesce a burst into one read.
            if rx.recv().await.is_none() {
                return Ok(());
            }
            while rx.try_recv().is_ok() {}
        }
    }
    .await;
    driver.abort();
    result
}
