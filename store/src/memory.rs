//! The in-memory backend: tests, demos, and the model the other backends are checked against.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use fwtoken::{ApiTokenId, DeviceId};

use crate::backend::{
    ApiRow, Backend, BoxFut, ChangeRow, ChangeSnapshot, DeviceRow, ImportOutcome, Kind,
    LogRetention, PURGE_GRACE_SECS, Status, TOMBSTONE_EXPIRES, UNKNOWN_ID_KEY, Written,
};
use crate::error::StoreError;
use crate::model::{
    ApiSelector, ApiTokenEntry, CapPolicy, DeviceEntry, DeviceLimit, ImportRefusal, Registered,
    from_secs,
};

#[derive(Debug)]
struct Device {
    row: DeviceRow,
    seq: u64,
    last_seen: Option<i64>,
    revoked: Option<i64>,
}

#[derive(Debug)]
struct Api {
    row: ApiRow,
    revoked: Option<i64>,
}

/// The change log's rows of one version.
#[derive(Debug)]
struct Logged {
    stamp: i64,
    at: i64,
    ids: Vec<(Kind, [u8; 16])>,
}

#[derive(Debug, Default)]
struct State {
    version: u64,
    /// The stamp of `version` (random per version).
    stamp: i64,
    purged_to: u64,
    purged_stamp: i64,
    changes: BTreeMap<u64, Logged>,
    seq: u64,
    devices: HashMap<[u8; 16], Device>,
    /// Every device id of each identity key, revoked ones included.
    by_user: HashMap<String, Vec<[u8; 16]>>,
    /// How many active devices each identity key holds.
    active: HashMap<String, usize>,
    api: HashMap<[u8; 16], Api>,
    logins: HashMap<[u8; 32], i64>,
}

/// All state in one mutex; lost when the process ends.
#[derive(Debug, Default)]
pub(crate) struct MemoryBackend {
    state: Mutex<State>,
}

impl MemoryBackend {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut s)
    }
}

fn ready<'a, T: Send + 'a>(r: Result<T, StoreError>) -> BoxFut<'a, T> {
    Box::pin(std::future::ready(r))
}

impl State {
    /// Sets how many active devices `key` holds.
    fn adjust(&mut self, key: &str, to: usize) {
        self.active.insert(key.to_owned(), to);
    }

    /// A new version that made `ids` inactive, logged with it.
    fn bump(&mut self, kind: Kind, ids: &[[u8; 16]], now: i64) -> u64 {
        self.version += 1;
        self.stamp = RandomState::new().hash_one(self.version) as i64;
        self.changes.insert(
            self.version,
            Logged {
                stamp: self.stamp,
                at: now,
                ids: ids.iter().map(|id| (kind, *id)).collect(),
            },
        );
        self.version
    }

    fn changes_since(&self, after: Option<u64>, limit: usize) -> ChangeSnapshot {
        let mut snap = ChangeSnapshot {
            version: self.version,
            stamp: self.stamp,
            purged_to: self.purged_to,
            purged_stamp: self.purged_stamp,
            rows: Vec::new(),
        };
        let Some(k) = after.filter(|k| *k < self.version) else {
            return snap;
        };
        let row = |version: u64, l: &Logged, (kind, id): (Kind, [u8; 16])| ChangeRow {
            version,
            stamp: l.stamp,
            kind,
            id,
        };
        if let Some((l, first)) = self
            .changes
            .get(&k)
            .and_then(|l| Some((l, *l.ids.first()?)))
        {
            snap.rows.push(row(k, l, first));
        }
        let above = self
            .changes
            .range(k.saturating_add(1)..=self.version)
            .flat_map(|(v, l)| l.ids.iter().map(move |x| row(*v, l, *x)))
            .take(limit.saturating_add(1));
        snap.rows.extend(above);
        snap
    }

    fn purge_changes(&mut self, now: i64, keep: LogRetention) -> usize {
        let cut = now.saturating_sub(keep.max_age_secs);
        let by_age = self
            .changes
            .iter()
            .filter(|(_, l)| l.at < cut)
            .map(|(v, _)| *v)
            .max();
        let mut newest = 0usize;
        let mut by_count = None;
        for (v, l) in self.changes.iter().rev() {
            newest += l.ids.len();
            if newest > keep.max_rows {
                by_count = Some(*v);
                break;
            }
        }
        let target = by_age.max(by_count).unwrap_or(0);
        if target > self.purged_to
            && let Some(l) = self.changes.get(&target)
        {
            self.purged_to = target;
            self.purged_stamp = l.stamp;
        }
        let mut deleted = 0;
        while deleted < keep.batch {
            let Some(mut entry) = self.changes.first_entry() else {
                break;
            };
            if *entry.key() > self.purged_to {
                break;
            }
            let l = entry.get_mut();
            let n = l.ids.len().min(keep.batch - deleted);
            l.ids.drain(..n);
            deleted += n;
            if l.ids.is_empty() {
                entry.remove();
            }
        }
        deleted
    }

    fn register_device(
        &mut self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> Result<Written<Registered>, StoreError> {
        let out = self
            .register_unlogged(row, limit, now)
            .map_err(|r| match r {
                ImportRefusal::DeviceLimit => StoreError::DeviceLimit { max: limit.max },
                ImportRefusal::Revoked => StoreError::Revoked,
                _ => StoreError::Conflict,
            })?;
        let v = match &out {
            Registered::New { evicted } if !evicted.is_empty() => {
                let ids: Vec<[u8; 16]> = evicted.iter().map(|d| d.to_bytes()).collect();
                Some(self.bump(Kind::Device, &ids, now))
            }
            _ => None,
        };
        Ok((out, v))
    }

    /// Registers one device (evicting under the evict policy) without bumping the version:
    /// the caller logs the evictions.
    fn register_unlogged(
        &mut self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> Result<Registered, ImportRefusal> {
        if let Some(d) = self.devices.get(&row.id) {
            return if d.revoked.is_some() {
                Err(ImportRefusal::Revoked)
            } else if d.row.user == row.user && d.row.issued == row.issued {
                Ok(Registered::AlreadyRegistered)
            } else {
                Err(ImportRefusal::Conflict)
            };
        }
        let held = self.active.get(&row.key).copied().unwrap_or(0);
        let mut evicted = Vec::new();
        if held >= limit.max {
            if limit.policy == CapPolicy::Refuse || limit.max == 0 {
                return Err(ImportRefusal::DeviceLimit);
            }
            let mut order: Vec<(i64, i64, u64, [u8; 16])> = self
                .by_user
                .get(&row.key)
                .into_iter()
                .flatten()
                .filter_map(|id| self.devices.get(id))
                .filter(|d| d.revoked.is_none())
                .map(|d| {
                    (
                        d.last_seen.unwrap_or(d.row.issued),
                        d.row.issued,
                        d.seq,
                        d.row.id,
                    )
                })
                .collect();
            order.sort_unstable();
            let n = held + 1 - limit.max;
            for (_, _, _, id) in order.into_iter().take(n) {
                if let Some(d) = self.devices.get_mut(&id) {
                    d.revoked = Some(now);
                }
                evicted.push(DeviceId::from_bytes(id));
            }
            self.adjust(&row.key, held + 1 - evicted.len());
        } else {
            self.adjust(&row.key, held + 1);
        }
        self.by_user
            .entry(row.key.clone())
            .or_default()
            .push(row.id);
        self.seq += 1;
        let seq = self.seq;
        self.devices.insert(
            row.id,
            Device {
                row,
                seq,
                last_seen: None,
                revoked: None,
            },
        );
        Ok(Registered::New { evicted })
    }
}

fn entry(d: &Device) -> Result<DeviceEntry, StoreError> {
    Ok(DeviceEntry {
        device_id: DeviceId::from_bytes(d.row.id),
        user: d.row.user.clone(),
        user_key: d.row.key.clone(),
        issued_at: from_secs(d.row.issued)?,
        last_seen: d.last_seen.map(from_secs).transpose()?,
        revoked_at: d.revoked.map(from_secs).transpose()?,
    })
}

fn api_entry(a: &Api) -> Result<ApiTokenEntry, StoreError> {
    Ok(ApiTokenEntry {
        id: ApiTokenId::from_bytes(a.row.id),
        user: a.row.user.clone(),
        user_key: a.row.key.clone(),
        app: a.row.app.clone(),
        issued_at: from_secs(a.row.issued)?,
        expires: from_secs(a.row.expires)?,
        revoked_at: a.revoked.map(from_secs).transpose()?,
    })
}

impl Backend for MemoryBackend {
    fn register_device(
        &self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Registered>> {
        ready(self.with(|s| s.register_device(row, limit, now)))
    }

    fn device_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        ready(self.with(|s| {
            let st = match s.devices.get(&id) {
                None => Status::Unknown,
                Some(d) if d.revoked.is_some() => Status::Revoked,
                Some(_) => Status::Active { expires: i64::MAX },
            };
            Ok((st, s.version))
        }))
    }

    fn touch_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, bool> {
        ready(self.with(|s| {
            Ok(match s.devices.get_mut(&id) {
                Some(d)
                    if d.revoked.is_none()
                        && d.last_seen.is_none_or(|t| {
                            t <= now.saturating_sub(crate::store::LAST_SEEN_INTERVAL_SECS)
                        }) =>
                {
                    d.last_seen = Some(now);
                    true
                }
                _ => false,
            })
        }))
    }

    fn list_devices(&self, key: String) -> BoxFut<'_, Vec<DeviceEntry>> {
        ready(self.with(|s| {
            let mut v: Vec<&Device> = s
                .by_user
                .get(&key)
                .into_iter()
                .flatten()
                .filter_map(|id| s.devices.get(id))
                .collect();
            v.sort_by_key(|d| (d.row.issued, d.seq));
            v.into_iter().map(entry).collect()
        }))
    }

    fn revoke_device(&self, id: [u8; 16], now: i64) -> BoxFut<'_, Written<bool>> {
        ready(self.with(|s| match s.devices.get_mut(&id) {
            Some(d) if d.revoked.is_none() => {
                d.revoked = Some(now);
                let key = d.row.key.clone();
                if let Some(n) = s.active.get_mut(&key) {
                    *n = n.saturating_sub(1);
                }
                Ok((true, Some(s.bump(Kind::Device, &[id], now))))
            }
            Some(_) => Ok((false, None)),
            None => {
                // Never seen: a tombstone, so a late registration can't make it active.
                let row = DeviceRow {
                    id,
                    user: String::new(),
                    key: UNKNOWN_ID_KEY.to_owned(),
                    issued: 0,
                };
                s.seq += 1;
                let seq = s.seq;
                s.devices.insert(
                    id,
                    Device {
                        row,
                        seq,
                        last_seen: None,
                        revoked: Some(now),
                    },
                );
                // Nothing that was active changed: no version bump.
                Ok((false, None))
            }
        }))
    }

    fn revoke_user_devices(&self, key: String, now: i64) -> BoxFut<'_, Written<Vec<[u8; 16]>>> {
        ready(self.with(|s| {
            let mut ids = Vec::new();
            for id in s.by_user.get(&key).into_iter().flatten() {
                if let Some(d) = s.devices.get_mut(id)
                    && d.revoked.is_none()
                {
                    d.revoked = Some(now);
                    ids.push(*id);
                }
            }
            s.active.remove(&key);
            let v = (!ids.is_empty()).then(|| s.bump(Kind::Device, &ids, now));
            Ok((ids, v))
        }))
    }

    fn register_api_token(&self, row: ApiRow) -> BoxFut<'_, bool> {
        ready(self.with(|s| match s.api.get(&row.id) {
            Some(a) if a.revoked.is_some() => Err(StoreError::Revoked),
            Some(a) if a.row == row => Ok(false),
            Some(_) => Err(StoreError::Conflict),
            None => {
                s.api.insert(row.id, Api { row, revoked: None });
                Ok(true)
            }
        }))
    }

    fn api_token_status(&self, id: [u8; 16]) -> BoxFut<'_, (Status, u64)> {
        ready(self.with(|s| {
            let st = match s.api.get(&id) {
                None => Status::Unknown,
                Some(a) if a.revoked.is_some() => Status::Revoked,
                Some(a) => Status::Active {
                    expires: a.row.expires,
                },
            };
            Ok((st, s.version))
        }))
    }

    fn list_api_tokens(&self, key: String) -> BoxFut<'_, Vec<ApiTokenEntry>> {
        ready(self.with(|s| {
            let mut v: Vec<&Api> = s.api.values().filter(|a| a.row.key == key).collect();
            v.sort_by_key(|a| (a.row.issued, a.row.id));
            v.into_iter().map(api_entry).collect()
        }))
    }

    fn revoke_api_tokens<'a>(
        &'a self,
        which: ApiSelector<'a>,
        now: i64,
    ) -> BoxFut<'a, Written<Vec<[u8; 16]>>> {
        ready(self.with(|s| {
            let mut ids = Vec::new();
            for a in s.api.values_mut() {
                let hit = match which {
                    ApiSelector::Id(id) => a.row.id == id,
                    ApiSelector::UserKey(k) => a.row.key == k,
                    ApiSelector::App(app) => a.row.app == app,
                };
                if hit && a.revoked.is_none() {
                    a.revoked = Some(now);
                    ids.push(a.row.id);
                }
            }
            if let ApiSelector::Id(id) = which
                && !s.api.contains_key(&id)
            {
                // Never seen: a tombstone, so a late registration can't make it active.
                let row = ApiRow {
                    id,
                    user: String::new(),
                    key: UNKNOWN_ID_KEY.to_owned(),
                    app: String::new(),
                    issued: 0,
                    expires: TOMBSTONE_EXPIRES,
                };
                s.api.insert(
                    id,
                    Api {
                        row,
                        revoked: Some(now),
                    },
                );
                return Ok((ids, None));
            }
            let v = (!ids.is_empty()).then(|| s.bump(Kind::Api, &ids, now));
            Ok((ids, v))
        }))
    }

    fn use_login_token(&self, digest: [u8; 32], expires: i64) -> BoxFut<'_, bool> {
        ready(self.with(|s| {
            if s.logins.contains_key(&digest) {
                return Ok(false);
            }
            s.logins.insert(digest, expires);
            Ok(true)
        }))
    }

    fn purge_expired(&self, now: i64, batch: usize) -> BoxFut<'_, usize> {
        ready(self.with(|s| {
            let cut = now.saturating_sub(PURGE_GRACE_SECS);
            let api: Vec<[u8; 16]> = s
                .api
                .values()
                .filter(|a| a.row.expires < cut)
                .map(|a| a.row.id)
                .take(batch)
                .collect();
            let logins: Vec<[u8; 32]> = s
                .logins
                .iter()
                .filter(|(_, e)| **e < cut)
                .map(|(d, _)| *d)
                .take(batch)
                .collect();
            for id in &api {
                s.api.remove(id);
            }
            for d in &logins {
                s.logins.remove(d);
            }
            Ok(api.len() + logins.len())
        }))
    }

    fn version(&self) -> BoxFut<'_, u64> {
        ready(self.with(|s| Ok(s.version)))
    }

    fn changes_since(&self, after: Option<u64>, limit: usize) -> BoxFut<'_, ChangeSnapshot> {
        ready(self.with(|s| Ok(s.changes_since(after, limit))))
    }

    fn purge_changes(&self, now: i64, retention: LogRetention) -> BoxFut<'_, usize> {
        ready(self.with(|s| Ok(s.purge_changes(now, retention))))
    }

    fn import_devices(
        &self,
        rows: Vec<DeviceRow>,
        limit: DeviceLimit,
        now: i64,
    ) -> BoxFut<'_, Written<Vec<ImportOutcome>>> {
        ready(self.with(|s| {
            let mut evicted = Vec::new();
            let out: Vec<ImportOutcome> = rows
                .into_iter()
                .map(|row| {
                    let r = s.register_unlogged(row, limit, now);
                    if let Ok(Registered::New { evicted: e }) = &r {
                        evicted.extend(e.iter().map(|d| d.to_bytes()));
                    }
                    r
                })
                .collect();
            let v = (!evicted.is_empty()).then(|| s.bump(Kind::Device, &evicted, now));
            Ok((out, v))
        }))
    }

    fn default_poll(&self) -> Duration {
        Duration::from_secs(1)
    }
}
