//! Framed transfer messages as a secondary receives them: an AXFR, then an IXFR (src/fuzzing.rs says what must hold).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mesos_dns::fuzzing::transfer_stream(data));
