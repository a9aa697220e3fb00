//! Arbitrary server bytes into the protocol engine, with requests of every
//! kind in flight; see `keel_core::protocol::fuzz_engine`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keel_core::protocol::fuzz_engine(data));
