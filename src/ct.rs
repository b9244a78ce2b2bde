//! Constant-time equality of fixed-size values, word by word.
//!
//! `subtle`'s byte-slice comparison passes every byte through an optimisation barrier; for
//! the fixed-size tags and digests fwtoken compares, comparing 8-byte words with `subtle`
//! is just as constant-time (the length is fixed, every word is compared, the results are
//! combined without branching) and a quarter of the work.

use subtle::{Choice, ConstantTimeEq};

/// Constant-time `a == b` for arrays whose length is a multiple of 8.
pub(crate) fn eq<const N: usize>(a: &[u8; N], b: &[u8; N]) -> bool {
    const { assert!(N.is_multiple_of(8), "ct::eq compares whole 8-byte words") };
    let mut equal = Choice::from(1u8);
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let x = u64::from_ne_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_ne_bytes(y.try_into().unwrap_or([0; 8]));
        equal &= x.ct_eq(&y);
    }
    bool::from(equal)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn equal_and_every_single_byte_difference() {
        let a = [0x5au8; 32];
        assert!(eq(&a, &a));
        for i in 0..32 {
            for bit in 0..8 {
                let mut b = a;
                b[i] ^= 1 << bit;
                assert!(!eq(&a, &b), "byte {i} bit {bit}");
            }
        }
        let c = [1u8; 16];
        let mut d = c;
        assert!(eq(&c, &d));
        d[15] = 2;
        assert!(!eq(&c, &d));
    }
}
