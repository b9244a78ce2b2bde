//! Names encoded twice by FotoWare's 2017 PHP login-token generator.
//!
//! That generator (FotoWare's `phplogintokengenerator`, copied into
//! szeidler/fotoweb-php-sdk `src/Authentication/LoginTokenGenerator.php` up to commit
//! 8ef7d70 and into the Drupal module szeidler/media_fotoweb
//! `includes/FotowebAPI/FotowebLoginTokenGenerator.inc`) called PHP's `utf8_encode` on the
//! token and on the MAC input; fotoweb-php-sdk commit 82fb3e7 (2024-05-15) removed it. Fed
//! a UTF-8 name, it encodes each byte as if it were Latin-1: `zoë` (`7a 6f c3 ab`) arrives
//! as `zoÃ«`, and `Øyvind` (`c3 98 …`) as `Ã` + U+0098, a C1 control character. The MAC is
//! made over the bytes as sent, so such a token verifies; only the name needs repair.

use alloc::string::String;
use alloc::vec::Vec;

/// The name the CMS meant, when `user` is valid doubly-encoded UTF-8: every character is
/// at most U+00FF, at least one is not ASCII, and the Latin-1 bytes of the characters are
/// valid UTF-8. `None` otherwise (the name is then taken as it was sent).
pub(crate) fn undo_utf8_encode(user: &str) -> Option<String> {
    if user.is_ascii() {
        return None;
    }
    let bytes = user
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repairs_what_utf8_encode_did() {
        let twice = |s: &str| -> String { s.bytes().map(char::from).collect() };
        for name in ["zoë", "Øyvind", "Åse", "Straße", "Müller", "山田", "علی"] {
            assert_eq!(undo_utf8_encode(&twice(name)).as_deref(), Some(name));
        }
        assert_eq!(undo_utf8_encode("alice"), None);
        // Not valid UTF-8 once re-read as Latin-1 bytes: a real Latin-1 name.
        assert_eq!(undo_utf8_encode("Zoë"), None);
        // A character above U+00FF: not what utf8_encode produces.
        assert_eq!(undo_utf8_encode("Ãœ€"), None);
    }
}
