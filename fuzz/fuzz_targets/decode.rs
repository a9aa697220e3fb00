//! Arbitrary bytes into every binary value decoder; see
//! `keel_core::types::fuzz_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keel_core::types::fuzz_decode(data));
