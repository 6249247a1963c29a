//! A NOTIFY as a secondary's listeners hand it to the inbox (src/fuzzing.rs says what must hold).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mesos_dns::fuzzing::notify_inbox(data));
