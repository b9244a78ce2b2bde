//! The compact binary payloads that token types seal inside envelopes: one writer into a
//! fixed stack buffer and one strict reader, shared by API tokens, device tokens and cache
//! links. Each token type's layout (and its version byte) lives in its own module.

use crate::error::{Error, Result};

/// Writes fields into a fixed buffer; running out of room is the `full` error.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
    full: Error,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8], full: Error) -> Self {
        Self { buf, len: 0, full }
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or_else(|| self.full.clone())?;
        self.buf
            .get_mut(self.len..end)
            .ok_or_else(|| self.full.clone())?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    /// A field of at most 255 bytes, prefixed with its length; longer is `too_long`.
    pub(crate) fn put_short(&mut self, field: &[u8], too_long: Error) -> Result<()> {
        let n = u8::try_from(field.len()).map_err(|_| too_long)?;
        self.put(&[n])?;
        self.put(field)
    }

    /// What was written.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

/// Reads fields strictly; running short is the `truncated` error.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
    truncated: Error,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(payload: &'a [u8], truncated: Error) -> Self {
        Self {
            rest: payload,
            truncated,
        }
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, rest) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| self.truncated.clone())?;
        self.rest = rest;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| self.truncated.clone())
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let [b] = self.array::<1>()?;
        Ok(b)
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array::<2>()?))
    }

    /// A field written by [`Writer::put_short`].
    pub(crate) fn short(&mut self) -> Result<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// Succeeds only when everything was read; otherwise `trailing`.
    pub(crate) fn finish(self, trailing: Error) -> Result<()> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(trailing)
        }
    }
}

/// `bytes` as UTF-8, or `Malformed(what)`.
pub(crate) fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> Result<&'a str> {
    core::str::from_utf8(bytes).map_err(|_| Error::Malformed(what))
}
