//! Any bytes as a master state document: decoding and generation never panic, the
//! document cut at its task lists decodes as it does whole, and every published name can
//! be written in DNS.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesos_dns::config::{Config, Environment};
use mesos_dns::mesos::generate::{Inputs, generate};
use mesos_dns::snapshot::compile;

fuzz_target!(|data: &[u8]| {
    let Some(state) = mesos_dns::fuzzing::state_document(data) else { return };
    let config = Config::from_json(
        r#"{"masters":["10.0.0.1:5050"],"externalon":false,"IPSources":["netinfo","docker","mesos","host"]}"#,
        "config.json".as_ref(),
        &Environment::system(),
    )
    .unwrap();
    let masters = config.masters.clone().unwrap();
    let (set, _) = generate(&config, &state, Inputs { masters: &masters, listener_ips: &[] });
    for (_, name, _) in set.iter() {
        assert!(mesos_dns::records::set::is_encodable(name), "{name:?}");
    }
    let _ = compile(set, &config, 1);
});
