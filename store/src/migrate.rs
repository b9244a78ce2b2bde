//! Which schema migrations a database still needs.
//!
//! Each migration is a plain SQL file numbered in its name; the database records every
//! number applied (`fwtoken_migrations`). A migration is applied when its number is not
//! recorded, in order of number, so numbers may have gaps and a file added later with a
//! lower number than one already applied (a reserved number) is still applied. A recorded
//! number this build does not know means a newer build migrated the database: refused.

use crate::error::StoreError;

/// The migrations of `known` (sorted by number) that `recorded` lacks, in order; an error
/// when `recorded` holds a number `known` does not.
pub(crate) fn pending<'a>(
    known: &'a [(i64, &'a str)],
    recorded: &[i64],
) -> Result<Vec<(i64, &'a str)>, StoreError> {
    if recorded.iter().any(|v| !known.iter().any(|m| m.0 == *v)) {
        return Err(StoreError::Corrupt(
            "the database schema is newer than this build",
        ));
    }
    let mut todo: Vec<(i64, &str)> = known
        .iter()
        .filter(|m| !recorded.contains(&m.0))
        .copied()
        .collect();
    todo.sort_by_key(|m| m.0);
    Ok(todo)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const KNOWN: &[(i64, &str)] = &[(1, "one"), (2, "two"), (3, "three")];

    fn numbers(v: Vec<(i64, &str)>) -> Vec<i64> {
        v.into_iter().map(|m| m.0).collect()
    }

    #[test]
    fn a_fresh_database_gets_every_migration_in_order() {
        assert_eq!(numbers(pending(KNOWN, &[]).unwrap()), [1, 2, 3]);
    }

    #[test]
    fn a_gap_filled_later_is_applied() {
        // A build with 1 and 3 migrated the database; this build also has 2.
        assert_eq!(numbers(pending(KNOWN, &[1, 3]).unwrap()), [2]);
        assert!(pending(KNOWN, &[1, 2, 3]).unwrap().is_empty());
        // A build without 2 applies 3 over 1, and accepts the gap.
        assert_eq!(
            numbers(pending(&[(1, "one"), (3, "three")], &[1]).unwrap()),
            [3]
        );
    }

    #[test]
    fn an_unknown_recorded_number_is_refused() {
        assert!(matches!(
            pending(&[(1, "one"), (3, "three")], &[1, 2, 3]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(pending(KNOWN, &[4]).is_err());
    }
}
