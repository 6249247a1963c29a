//! An HTTP request head as the API's event loop parses it (src/fuzzing.rs says what must hold).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mesos_dns::fuzzing::http_request(data));
