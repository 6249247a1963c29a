//! An upstream's reply as the forwarder matches, caches and fits it (src/fuzzing.rs says what must hold).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mesos_dns::fuzzing::forward_reply(data));
