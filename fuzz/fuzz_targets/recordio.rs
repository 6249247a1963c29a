//! The operator API stream's RecordIO framing (src/fuzzing.rs says what must hold).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mesos_dns::fuzzing::recordio(data));
