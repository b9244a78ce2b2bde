//! The README's "A custom server in 30 lines" is `examples/custom_server.rs` (which
//! `cargo test` compiles) word for word, and the example server stays thin on the crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The first fenced block after `heading`.
fn block_after<'a>(text: &'a str, heading: &str) -> &'a str {
    let section = &text[text.find(heading).expect("the heading")..];
    let start = section.find("```rust").expect("a rust block");
    let body = &section[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    &body[..body.find("```").unwrap()]
}

#[test]
fn the_readme_server_is_the_example_and_fits_in_30_lines() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let shown = block_after(&readme, "## A custom server in 30 lines");
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom_server.rs"),
    )
    .unwrap();
    // The example's first line is its crate doc comment; the rest is what the README shows.
    let (doc, code) = example.split_once('\n').unwrap();
    assert!(doc.starts_with("//!"));
    assert_eq!(shown, code, "README and examples/custom_server.rs differ");
    assert!(code.lines().count() <= 30, "{} lines", code.lines().count());
}

#[test]
fn the_example_server_is_at_most_500_lines() {
    let dir = workspace().join("examples/server");
    let mut total = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        total += std::fs::read_to_string(&path).unwrap().lines().count();
    }
    assert!(total <= 500, "examples/server has {total} lines");
}
