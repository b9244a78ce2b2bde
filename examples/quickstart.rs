//! The main job of fwtoken, with no configuration at all:
//! generate a secret, issue and verify a FotoWeb login token and a sealed one, print the
//! login URL, rotate the ring, see an old token verify with the backup, retire it.
//!
//! ```text
//! cargo run --example quickstart
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use fwtoken::time::OffsetDateTime;
use fwtoken::{KeyRing, LoginPolicy, LoginToken, Secret};

fn main() -> Result<(), fwtoken::Error> {
    let mut rng = fwtoken::os_rng();

    // 1. A site secret, as `fwtoken secret generate` would print it.
    let secret = Secret::generate(&mut rng);
    println!(
        "secret fingerprint:  {} (the secret itself is never printed)",
        secret.fingerprint()
    );
    let ring = KeyRing::new(secret);
    let now = OffsetDateTime::now_utc();

    // 2. A CMS back end issues a FotoWeb login token for a user and sends them to the site.
    let token = LoginToken::builder("alice@example.com").issue(&ring, now)?;
    println!(
        "login URL:           {}",
        fwtoken::login_url("https://dam.example.com/fotoweb/", &token)
    );

    // 3. The server verifies it, refusing the site owner.
    let policy = LoginPolicy::new().deny_user("siteowner");
    let claims = LoginToken::verify(&ring, &token, now, &policy)?;
    println!(
        "verified FotoWeb:    user={} window={}..{} key={:?}",
        claims.user,
        fwtoken::rfc3339(claims.not_before),
        fwtoken::rfc3339(claims.expires),
        claims.slot()
    );

    // 4. The sealed variant, for when both ends are yours.
    let sealed = LoginToken::builder("bob")
        .widgets(true)
        .issue_sealed(&ring, now, &mut rng)?;
    let claims = LoginToken::verify(&ring, &sealed, now, &policy)?;
    println!(
        "verified sealed:     user={} widgets={} format={:?}",
        claims.user, claims.widgets, claims.format
    );

    // 5. A denied user is refused.
    let owner = LoginToken::builder("SiteOwner").issue(&ring, now)?;
    println!(
        "owner token:         {}",
        LoginToken::verify(&ring, &owner, now, &policy).unwrap_err()
    );

    // 6. Rotate: a new primary, the old secret becomes the backup.
    let ring = ring.rotate(Secret::generate(&mut rng))?;
    let v = LoginToken::verify(&ring, &token, now, &policy)?;
    println!(
        "after rotation:      key={:?} needs_reissue={}",
        v.slot(),
        v.needs_reissue()
    );
    assert!(v.needs_reissue());

    // 7. Retire the backup once old tokens have expired: the old token is refused.
    let ring = ring.retire_backup();
    let err = LoginToken::verify(&ring, &token, now, &policy).unwrap_err();
    println!("after retirement:    {err}");
    assert_eq!(err, fwtoken::Error::InvalidSignature);
    Ok(())
}
