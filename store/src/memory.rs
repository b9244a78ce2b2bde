//! The in-memory backend: tests, demos, and the model the other backends are checked against.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use fwtoken::{ApiTokenId, DeviceId};

use crate::backend::{
    ApiRow, Backend, BoxFut, DeviceRow, PURGE_GRACE_SECS, Status, TOMBSTONE_EXPIRES,
    UNKNOWN_ID_KEY, Written,
};
use crate::error::StoreError;
use crate::model::{
    ApiSelector, ApiTokenEntry, CapPolicy, DeviceEntry, DeviceLimit, Registered, from_secs,
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

#[derive(Debug, Default)]
struct State {
    version: u64,
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

    fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    fn register_device(
        &mut self,
        row: DeviceRow,
        limit: DeviceLimit,
        now: i64,
    ) -> Result<Written<Registered>, StoreError> {
        if let Some(d) = self.devices.get(&row.id) {
            return if d.revoked.is_some() {
                Err(StoreError::Revoked)
            } else if d.row.user == row.user && d.row.issued == row.issued {
                Ok((Registered::AlreadyRegistered, None))
            } else {
                Err(StoreError::Conflict)
            };
        }
        let held = self.active.get(&row.key).copied().unwrap_or(0);
        let mut evicted = Vec::new();
        if held >= limit.max {
            if limit.policy == CapPolicy::Refuse || limit.max == 0 {
                return Err(StoreError::DeviceLimit { max: limit.max });
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
        let v = (!evicted.is_empty()).then(|| self.bump());
        Ok((Registered::New { evicted }, v))
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
                        && d.last_seen.is_none_or(|t| t <= now.saturating_sub(60)) =>
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
                Ok((true, Some(s.bump())))
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

    fn revoke_user_devices(&self, key: String, now: i64) -> BoxFut<'_, Written<usize>> {
        ready(self.with(|s| {
            let mut n = 0;
            for id in s.by_user.get(&key).into_iter().flatten() {
                if let Some(d) = s.devices.get_mut(id)
                    && d.revoked.is_none()
                {
                    d.revoked = Some(now);
                    n += 1;
                }
            }
            s.active.remove(&key);
            Ok((n, (n > 0).then(|| s.bump())))
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
    ) -> BoxFut<'a, Written<usize>> {
        ready(self.with(|s| {
            let mut n = 0;
            for a in s.api.values_mut() {
                let hit = match which {
                    ApiSelector::Id(id) => a.row.id == id,
                    ApiSelector::UserKey(k) => a.row.key == k,
                    ApiSelector::App(app) => a.row.app == app,
                };
                if hit && a.revoked.is_none() {
                    a.revoked = Some(now);
                    n += 1;
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
                return Ok((0, None));
            }
            Ok((n, (n > 0).then(|| s.bump())))
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

    fn default_poll(&self) -> Duration {
        Duration::from_secs(1)
    }
}
