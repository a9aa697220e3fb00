//! Replays the fuzzing regression corpus on stable Rust, so every input
//! that once crashed (or that seeds the fuzzers) is checked by `cargo test`.
//!
//! The corpus lives in `core/tests/fuzz_corpus/<target>/`; the harnesses are
//! the same functions the cargo-fuzz targets in `fuzz/` call.

use std::path::Path;

fn replay(target: &str, harness: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus", dir.display());
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| harness(&data));
        assert!(outcome.is_ok(), "{} panics", file.display());
    }
    println!("{target}: replayed {} inputs", files.len());
}

#[test]
fn engine_corpus_replays_without_panics() {
    replay("engine", keel_core::protocol::fuzz_engine);
}

#[test]
fn decode_corpus_replays_without_panics() {
    replay("decode", keel_core::types::fuzz_decode);
}
