//! A primary secret plus an optional backup, with per-purpose keys derived once.

use core::fmt;
use core::ops::Deref;

use aes::Aes256;
use hkdf::Hkdf;
use hmac::{Hmac, KeyInit};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// What a sealed token is for. Each purpose has its own derived keys, so a token made
/// for one purpose never opens as another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Purpose {
    Login = 1,
    Api = 2,
    Device = 3,
    Cache = 4,
    ImageId = 5,
}

impl Purpose {
    pub(crate) const ALL: [Purpose; 5] = [
        Purpose::Login,
        Purpose::Api,
        Purpose::Device,
        Purpose::Cache,
        Purpose::ImageId,
    ];

    pub(crate) const fn label(self) -> &'static str {
        match self {
            Purpose::Login => "login",
            Purpose::Api => "api",
            Purpose::Device => "device",
            Purpose::Cache => "cache",
            Purpose::ImageId => "image-id",
        }
    }

    const fn index(self) -> usize {
        self as usize - 1
    }
}

/// Which key of a ring verified a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeySlot {
    /// The ring's primary secret.
    Primary,
    /// The ring's backup secret: the token predates a rotation and should be re-issued.
    Backup,
}

impl KeySlot {
    /// `"primary"` or `"backup"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            KeySlot::Primary => "primary",
            KeySlot::Backup => "backup",
        }
    }
}

/// A value that passed verification, with the key slot that verified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified<T> {
    value: T,
    slot: KeySlot,
}

impl<T> Verified<T> {
    pub(crate) const fn new(value: T, slot: KeySlot) -> Self {
        Self { value, slot }
    }

    /// Which key verified the value.
    pub const fn slot(&self) -> KeySlot {
        self.slot
    }

    /// True when the backup key verified it: the holder should get a fresh token.
    pub const fn needs_reissue(&self) -> bool {
        matches!(self.slot, KeySlot::Backup)
    }

    /// The verified value.
    pub const fn value(&self) -> &T {
        &self.value
    }

    /// The verified value, by move.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Maps the value, keeping the slot.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Verified<U> {
        Verified {
            value: f(self.value),
            slot: self.slot,
        }
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// The keys of one purpose under one secret: AES-256 key schedule and two keyed HMAC states.
#[derive(Clone)]
pub(crate) struct PurposeKeys {
    pub(crate) aes: Aes256,
    pub(crate) mac: Hmac<Sha256>,
    pub(crate) siv: Hmac<Sha256>,
}

/// One secret of a ring and everything derived from it.
#[derive(Clone)]
pub(crate) struct RingKey {
    pub(crate) secret: Secret,
    keys: [PurposeKeys; 5],
}

impl PartialEq for RingKey {
    /// Constant time: the secrets' equality.
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl RingKey {
    fn new(secret: Secret) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"fwtoken/v1"), secret.bytes());
        let keys = Purpose::ALL.map(|p| derive(&hk, p));
        Self { secret, keys }
    }

    /// The key id written into sealed tokens: the secret's fingerprint.
    pub(crate) fn id(&self) -> [u8; 4] {
        self.secret.fingerprint().to_bytes()
    }

    pub(crate) fn purpose(&self, p: Purpose) -> &PurposeKeys {
        // `Purpose::index` is always in 0..5.
        let [a, b, c, d, e] = &self.keys;
        match p.index() {
            0 => a,
            1 => b,
            2 => c,
            3 => d,
            _ => e,
        }
    }
}

fn derive(hk: &Hkdf<Sha256>, p: Purpose) -> PurposeKeys {
    let mut info = [0u8; 32];
    let prefix = b"fwtoken/v1/";
    let label = p.label().as_bytes();
    let n = prefix.len() + label.len();
    if let Some(dst) = info.get_mut(..prefix.len()) {
        dst.copy_from_slice(prefix);
    }
    if let Some(dst) = info.get_mut(prefix.len()..n) {
        dst.copy_from_slice(label);
    }
    let mut okm = [0u8; 96];
    // 96 bytes is far below HKDF-SHA256's limit of 8160, so expand cannot fail.
    let _ = hk.expand(info.get(..n).unwrap_or_default(), &mut okm);
    let (enc, rest) = okm.split_at(32);
    let (mac, siv) = rest.split_at(32);
    let keys = PurposeKeys {
        aes: Aes256::new_from_slice(enc).unwrap_or_else(|_| Aes256::new(&Default::default())),
        mac: <Hmac<Sha256> as KeyInit>::new_from_slice(mac)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default())),
        siv: <Hmac<Sha256> as KeyInit>::new_from_slice(siv)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default())),
    };
    okm.zeroize();
    keys
}

/// A primary key and an optional backup: the one rotation mechanism behind [`KeyRing`],
/// the Edgecast ring and the Fernet ring. `K`'s equality must be constant-time.
#[derive(Clone)]
pub(crate) struct Slots<K> {
    primary: K,
    backup: Option<K>,
}

impl<K: PartialEq> Slots<K> {
    pub(crate) const fn new(primary: K) -> Self {
        Self {
            primary,
            backup: None,
        }
    }

    /// Sets the backup (replacing any previous one). Fails if it equals the primary.
    pub(crate) fn with_backup(self, backup: K) -> Result<Self> {
        if backup == self.primary {
            return Err(Error::DuplicateKey);
        }
        Ok(Self {
            primary: self.primary,
            backup: Some(backup),
        })
    }

    /// The new key becomes the primary, the old primary the backup; the old backup is
    /// dropped. Fails if the new key is already the primary or the backup.
    pub(crate) fn rotate(self, new_primary: K) -> Result<Self> {
        let dup_backup = self.backup.as_ref().is_some_and(|b| *b == new_primary);
        if new_primary == self.primary || dup_backup {
            return Err(Error::DuplicateKey);
        }
        Ok(Self {
            primary: new_primary,
            backup: Some(self.primary),
        })
    }

    /// Drops the backup.
    pub(crate) fn retire_backup(self) -> Self {
        Self {
            primary: self.primary,
            backup: None,
        }
    }

    pub(crate) const fn primary(&self) -> &K {
        &self.primary
    }

    pub(crate) const fn backup(&self) -> Option<&K> {
        self.backup.as_ref()
    }

    /// The keys in verification order, with their slots.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (KeySlot, &K)> {
        core::iter::once((KeySlot::Primary, &self.primary))
            .chain(self.backup.iter().map(|b| (KeySlot::Backup, b)))
    }
}

/// A primary secret and an optional backup.
///
/// Everything is signed and encrypted with the primary; verification accepts the primary
/// or the backup and nothing else. Per-purpose keys (AES-256 key schedules, keyed
/// HMAC-SHA256 states) are derived once here, so no verification derives a key.
///
/// Rotation, as CDNs document it: `rotate(new)` makes the new secret primary and the old
/// primary the backup; once every token made under the old one has expired (or been
/// re-issued, see [`Verified::needs_reissue`]), `retire_backup()`.
///
/// ```
/// use fwtoken::{KeyRing, Secret};
/// let ring = KeyRing::new(Secret::from_text("old site secret, long enough")?);
/// let ring = ring.rotate(Secret::from_text("new site secret, long enough")?)?;
/// assert!(ring.backup().is_some());
/// let ring = ring.retire_backup();
/// assert!(ring.backup().is_none());
/// # Ok::<(), fwtoken::Error>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    keys: Slots<RingKey>,
}

impl KeyRing {
    /// A ring with only a primary secret.
    pub fn new(primary: Secret) -> Self {
        Self {
            keys: Slots::new(RingKey::new(primary)),
        }
    }

    /// Sets the backup secret (replacing any previous one). Fails if it equals the primary.
    pub fn with_backup(self, backup: Secret) -> Result<Self> {
        Ok(Self {
            keys: self.keys.with_backup(RingKey::new(backup))?,
        })
    }

    /// Makes `new_primary` the primary; the old primary becomes the backup and the old
    /// backup is dropped. Fails if `new_primary` is already the primary or the backup.
    pub fn rotate(self, new_primary: Secret) -> Result<Self> {
        Ok(Self {
            keys: self.keys.rotate(RingKey::new(new_primary))?,
        })
    }

    /// Drops the backup: tokens made under it stop verifying.
    pub fn retire_backup(self) -> Self {
        Self {
            keys: self.keys.retire_backup(),
        }
    }

    /// The primary secret.
    pub fn primary(&self) -> &Secret {
        &self.keys.primary().secret
    }

    /// The backup secret, if any.
    pub fn backup(&self) -> Option<&Secret> {
        self.keys.backup().map(|k| &k.secret)
    }

    /// The ring's keys in verification order, with their slots.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (KeySlot, &RingKey)> {
        self.keys.iter()
    }

    pub(crate) fn primary_key(&self) -> &RingKey {
        self.keys.primary()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("primary", &self.primary().fingerprint())
            .field("backup", &self.backup().map(Secret::fingerprint))
            .finish()
    }
}
