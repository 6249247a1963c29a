//! A TCP query as the listener takes it, transfers admitted and streamed to the end (src/fuzzing.rs says what must hold).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mesos_dns::fuzzing::transfer_request(data));
