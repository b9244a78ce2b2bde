//! User names as the token formats carry them.

use crate::error::{Error, Result};

/// Longest user name accepted, in bytes.
pub const MAX_USER_LEN: usize = 255;

/// Checks a user name for the token formats: not empty, at most 255 bytes, and no `;`,
/// `=` or control character (the FotoWeb format has no escaping, so such a name could
/// inject fields). `user`, `user@domain` and `domain\user` are all fine.
pub fn validate_user_name(user: &str) -> Result<()> {
    if user.is_empty() {
        return Err(Error::InvalidUserName("empty"));
    }
    if user.len() > MAX_USER_LEN {
        return Err(Error::InvalidUserName("longer than 255 bytes"));
    }
    // One pass: `;` and `=` would inject fields; control characters have no place in a name.
    for c in user.chars() {
        if c == ';' || c == '=' {
            return Err(Error::InvalidUserName("contains ';' or '='"));
        }
        if c.is_control() {
            return Err(Error::InvalidUserName("contains a control character"));
        }
    }
    Ok(())
}

/// Case-insensitive (Unicode lower case) comparison, without allocating.
pub(crate) fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// The account part of a user name: `user` for `user`, `user@domain` and `domain\user`.
pub(crate) fn account_part(name: &str) -> &str {
    let name = name.rsplit_once('\\').map_or(name, |(_, u)| u);
    name.split_once('@').map_or(name, |(u, _)| u)
}

/// True when `candidate` names `user` in any of the forms `user`, `user@domain`,
/// `domain\user`, compared case-insensitively.
pub(crate) fn names_same_user(candidate: &str, user: &str) -> bool {
    eq_ignore_case(candidate, user) || eq_ignore_case(account_part(candidate), account_part(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert!(names_same_user("Admin", "admin"));
        assert!(names_same_user("ADMIN@corp.example", "admin"));
        assert!(names_same_user("CORP\\Admin", "admin"));
        assert!(!names_same_user("administrator", "admin"));
        assert!(validate_user_name("CORP\\jo@x").is_ok());
        assert!(validate_user_name("a;b").is_err());
        assert!(validate_user_name("a=b").is_err());
        assert!(validate_user_name("a\nb").is_err());
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name(&"x".repeat(256)).is_err());
    }
}
