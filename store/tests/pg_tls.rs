//! TLS to PostgreSQL (feature `tls-rustls`), against a throwaway cluster of the test's own
//! started with `ssl=on` and a certificate made here (rcgen): the store connects with the
//! certificate verified against the test's CA (pool and `LISTEN` connection both over TLS,
//! as `pg_stat_ssl` shows, and a revocation still reaches another store), and is refused
//! with another CA, with a name the certificate does not carry, and when TLS is required
//! and the server does not offer it (no fall-back to plain text). Like every PostgreSQL
//! test it runs only when `FWTOKEN_TEST_POSTGRES_URL` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{pg_url, visible};
use fwtoken::time::OffsetDateTime;
use fwtoken::{DeviceId, DeviceRecord};
use fwtoken_store::{DeviceLimit, PostgresConfig, Store, StoreConfig, StoreError};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;

/// A CA of the test's own.
fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A server certificate for `names` signed by `ca`: (certificate PEM, key PEM).
fn server_cert(ca: &CertifiedIssuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "fwtoken test server");
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A rustls client trusting only `ca`.
fn client(ca: &CertificateDer<'static>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Writes the certificate and key in the data directory and turns TLS on.
fn tls_on(data: &Path, cert_pem: &str, key_pem: &str) -> bool {
    let write = |name: &str, text: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(data.join(name))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .is_ok()
    };
    write("server.crt", cert_pem)
        && write("server.key", key_pem)
        && std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut f| {
                f.write_all(
                    b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
                )
            })
            .is_ok()
}

async fn admin(cluster: &Cluster) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

fn record(n: u8) -> DeviceRecord {
    DeviceRecord {
        device_id: DeviceId::from_bytes([n; 16]),
        user: "tls".into(),
        issued_at: OffsetDateTime::now_utc().replace_nanosecond(0).unwrap(),
    }
}

fn pg(url: &str, tls: rustls::ClientConfig) -> PostgresConfig {
    PostgresConfig::new(url).unwrap().pool_size(2).tls(tls)
}

fn config() -> StoreConfig {
    StoreConfig::new().purge_every(None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verified_refused_with_another_ca_or_name_and_required() {
    const TEST: &str = "tls_verified_refused_with_another_ca_or_name_and_required";
    if pg_url(TEST).is_none() {
        return;
    }
    let ours = ca("fwtoken test CA");
    let (cert_pem, key_pem) = server_cert(&ours, &["127.0.0.1"]);
    let Some(cluster) = Cluster::create_with(|data| tls_on(data, &cert_pem, &key_pem)) else {
        visible(&format!(
            "SKIPPED {TEST}: postgres test could not start a throwaway cluster (initdb/pg_ctl)"
        ));
        return;
    };
    let url = cluster.url();

    // Verified against our CA: works, on every connection the store holds.
    let a = Store::postgres(pg(&url, client(ours.der())), config())
        .await
        .unwrap();
    let b = Store::postgres(pg(&url, client(ours.der())), config())
        .await
        .unwrap();
    let r = record(1);
    a.register_device(&r, DeviceLimit::refuse(5), r.issued_at)
        .await
        .unwrap();
    assert!(b.is_device_active(&r.device_id).await.unwrap());
    let admin = admin(&cluster).await;
    // The LISTEN connections too (they start in the background).
    let started = Instant::now();
    let (tls, plain) = loop {
        let row = admin
            .query_one(
                "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl),
                        count(*) FILTER (WHERE a.application_name = $1)
                 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
                 WHERE a.application_name LIKE 'fwtoken-store%'",
                &[&fwtoken_store::LISTEN_APPLICATION_NAME],
            )
            .await
            .unwrap();
        let (tls, plain, listening): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        if listening == 2 {
            break (tls, plain);
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no LISTEN connections"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        tls >= 4 && plain == 0,
        "{tls} TLS, {plain} plain connections"
    );
    // A revocation reaches the other store over its TLS LISTEN connection.
    assert!(a.revoke_device(&r.device_id, r.issued_at).await.unwrap());
    let since = Instant::now();
    while b.is_device_active(&r.device_id).await.unwrap() {
        assert!(
            since.elapsed() < Duration::from_secs(2),
            "revocation never seen"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seen = since.elapsed();

    // Another CA: refused, as the storage failing (never a plain-text connection).
    let theirs = ca("some other CA");
    let err = Store::postgres(pg(&url, client(theirs.der())), config())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    let mut refusals = vec![err.to_string()];

    // Our CA, but a name the certificate does not carry.
    let by_name = url.replace("host=127.0.0.1", "host=localhost");
    let err = Store::postgres(pg(&by_name, client(ours.der())), config())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("certificate"), "{err}");
    refusals.push(err.to_string());

    // TLS off on the server: a store that requires TLS is refused, even with
    // sslmode=prefer in its URL; plain text still connects (the server is up).
    admin
        .batch_execute("ALTER SYSTEM SET ssl = off")
        .await
        .unwrap();
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let ssl: String = admin.query_one("SHOW ssl", &[]).await.unwrap().get(0);
        if ssl == "off" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "ssl stays on");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = Store::postgres(
        pg(&format!("{url} sslmode=prefer"), client(ours.der())),
        config(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("TLS"), "{err}");
    refusals.push(err.to_string());
    let plain = Store::postgres(PostgresConfig::new(&url).unwrap(), config())
        .await
        .unwrap();
    assert!(!plain.is_device_active(&r.device_id).await.unwrap());
    visible(&format!(
        "FIGURE {TEST}: {tls} connections over TLS, 0 plain; revocation seen by the other store after {:.1} ms; refused: {refusals:?}",
        seen.as_secs_f64() * 1e3
    ));
}
