//! Runs every fuzz target body (`tests/fuzz_bodies`) in ordinary `cargo test`: over the
//! committed seed corpus in `fuzz/corpus/<target>/` (when present), the built-in seeds, and a
//! few thousand generated inputs (random bytes and mutations of the seeds).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod fuzz_bodies;

use std::path::PathBuf;

use rand_chacha::rand_core::Rng;

const GENERATED: usize = 3000;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect()
}

fn run(target: &str, body: fn(&[u8])) -> usize {
    let mut inputs = fuzz_bodies::seeds(target);
    inputs.extend(corpus(target));
    if std::env::var_os("FWTOKEN_WRITE_CORPUS").is_some() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in fuzz_bodies::seeds(target).iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), s).unwrap();
        }
    }
    let mut rng = fuzz_bodies::rng(0x5eed);
    let seeds = inputs.clone();
    for i in 0..GENERATED {
        let input = match i % 3 {
            // Random bytes of random length.
            0 => {
                let mut b = vec![0u8; (rng.next_u32() % 200) as usize];
                rng.fill_bytes(&mut b);
                b
            }
            // A seed with random mutations applied (as text).
            1 => {
                let seed = &seeds[rng.next_u32() as usize % seeds.len()];
                let mut ops = [0u8; 8];
                rng.fill_bytes(&mut ops);
                let s = String::from_utf8_lossy(seed).into_owned();
                fuzz_bodies::mutate(&s, &ops).unwrap_or_else(|| seed.clone())
            }
            // The body's own mutation mode: 0xFF, pick, ops.
            _ => {
                let mut b = vec![0u8; 2 + 4 * (1 + rng.next_u32() as usize % 3)];
                rng.fill_bytes(&mut b);
                b[0] = 0xFF;
                b
            }
        };
        inputs.push(input);
    }
    for input in &inputs {
        body(input);
    }
    inputs.len()
}

#[test]
fn every_fuzz_target_body_holds_over_corpus_and_generated_inputs() {
    for (name, body) in fuzz_bodies::TARGETS {
        let n = run(name, *body);
        assert!(n >= GENERATED, "{name}");
    }
}
