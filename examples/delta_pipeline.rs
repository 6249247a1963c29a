//! Measures the delta pipeline on a state file: the first load (decode, model, store,
//! compile of every shard), one task event at a time (apply + publish), bursts of events
//! published together, and a poll whose document changed one task.
//! `delta_pipeline STATE.json [EVENTS]`; prints one `key=value` line per measurement.
//! With `OPTIONS=on` in the environment, every opt-in answer option is on
//! (`synth::options_config`: reverse zones, HealthyOnly, MaxAnswers, DC/OS names).
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a measuring tool

use mesos_dns::cluster::{Change, RunningStatus, StatusUpdate};
use mesos_dns::control::engine::Engine;
use mesos_dns::mesos::state::State;
use mesos_dns::snapshot::Snapshot;
use mesos_dns::synth::{benchmark_config, process_memory_mb};
use std::net::IpAddr;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns: f64 = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    ns / 1e9
}

/// Bytes the allocator has handed out and not taken back, in MB.
fn allocated_mb() -> f64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::allocated::read().map_or(0.0, |b| b as f64 / 1e6)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: delta_pipeline STATE.json [EVENTS]");
    let events: usize = args.next().map_or(2000, |n| n.parse().unwrap());
    let config = if std::env::var_os("OPTIONS").is_some() {
        mesos_dns::synth::options_config()
    } else {
        benchmark_config()
    };
    let masters = config.masters.clone().unwrap();
    let listener: Vec<IpAddr> = vec![];

    let t = Instant::now();
    let state = State::from_reader(std::fs::File::open(&path).unwrap()).unwrap();
    let decode_ms = t.elapsed().as_secs_f64() * 1e3;
    let decoded_mb = allocated_mb();
    let t = Instant::now();
    let cluster_state = state.into_cluster_state();
    let convert_ms = t.elapsed().as_secs_f64() * 1e3;
    let converted_mb = allocated_mb();
    if std::env::var_os("MODEL_ONLY").is_some() {
        let t = Instant::now();
        let model = mesos_dns::cluster::Cluster::from_state(
            cluster_state,
            masters.clone(),
            listener.clone(),
        );
        let model_ms = t.elapsed().as_secs_f64() * 1e3;
        let model_mb = allocated_mb();
        // The same state again: what comparing an unchanged poll with the model costs.
        let again = model.to_state();
        let t = Instant::now();
        let again = mesos_dns::cluster::ComparedState::of(&model, again);
        let items = model.differences_from(&again, &masters, &listener);
        let diff_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let (set, _) = mesos_dns::records::generate_cluster(&config, &model);
        let generate_ms = t.elapsed().as_secs_f64() * 1e3;
        println!(
            "model_only_mb={model_mb:.0} tasks={} model_ms={model_ms:.0} same_state_diff_ms={diff_ms:.0} same_state_items={} full_generate_ms={generate_ms:.0} records={}",
            model.task_count(),
            items.len(),
            set.insertion_log().len()
        );
        return;
    }
    let mut engine = Engine::new(config.clone());
    let t = Instant::now();
    engine.apply_state(cluster_state, &masters, &listener);
    let apply_ms = t.elapsed().as_secs_f64() * 1e3;
    let applied_mb = allocated_mb();
    let t = Instant::now();
    let (mut served, _) = engine.publish(&Snapshot::empty(&config)).unwrap();
    let publish_ms = t.elapsed().as_secs_f64() * 1e3;
    // As a server does once the first snapshot is served.
    let t = Instant::now();
    engine.let_go_of_nodes();
    let let_go_ms = t.elapsed().as_secs_f64() * 1e3;
    let (names, bytes) = served.size();
    println!(
        "allocated_mb decoded={decoded_mb:.0} converted={converted_mb:.0} model_and_store={applied_mb:.0} with_snapshot={:.0}",
        allocated_mb()
    );
    println!(
        "first_load decode_ms={decode_ms:.0} convert_ms={convert_ms:.0} apply_ms={apply_ms:.0} publish_ms={publish_ms:.0} let_go_ms={let_go_ms:.0} names={names} snapshot_mb={:.1} rss_mb={:.0} peak_rss_mb={:.0}",
        bytes as f64 / 1e6,
        process_memory_mb("VmRSS:"),
        process_memory_mb("VmHWM:")
    );

    println!(
        "records={}",
        mesos_dns::records::generate_cluster(&config, engine.cluster())
            .0
            .insertion_log()
            .len()
    );
    println!(
        "store_mb={:.1} node_bytes={}",
        engine.store().bytes_held() as f64 / 1e6,
        std::mem::size_of::<mesos_dns::snapshot::store::Node>()
    );
    let (sets, set_bytes) = engine.pool_size();
    println!(
        "snapshot_mb shards={:.1} sets={:.1} distinct_sets={sets}",
        bytes as f64 / 1e6,
        set_bytes as f64 / 1e6
    );
    if std::env::var_os("SHARD_TIMES").is_some() {
        let mut times: Vec<(f64, usize, usize)> = (0..mesos_dns::snapshot::shards::SHARDS)
            .map(|i| {
                let t = Instant::now();
                let pool = mesos_dns::snapshot::sets::SetPool::default();
                let shard = mesos_dns::snapshot::compile_shard(engine.store(), i, &config, &pool);
                (t.elapsed().as_secs_f64() * 1e6, i, shard)
            })
            .collect();
        times.sort_by(|a, b| a.0.total_cmp(&b.0));
        println!(
            "shard_compile_us median={:.1} p99={:.1} max={:?}",
            times[times.len() / 2].0,
            times[times.len() * 99 / 100].0,
            &times[times.len() - 3..]
        );
    }

    // Running tasks to move, spread over the whole model as real events are (a stride
    // through the task list): each event gives one a new container address.
    let running: Vec<_> = engine
        .cluster()
        .tasks()
        .filter(|t| t.running)
        .map(|t| t.key())
        .collect();
    let keys: Vec<_> = (0..events)
        .map(|i| running[(i * 7919) % running.len()].clone())
        .collect();
    let update = |i: usize, key: &mesos_dns::cluster::TaskKey| {
        Change::TaskUpdated(StatusUpdate {
            framework_id: key.framework.to_string(),
            task_id: key.id.to_string(),
            running: true,
            terminal: false,
            status: Some(RunningStatus::new(
                2e9 + i as f64,
                &[IpAddr::from([10, 200, (i >> 8) as u8, i as u8])],
                &[],
                &[],
                None,
            )),
        })
    };

    // One event per publish.
    let (mut latencies, cpu0) = (Vec::with_capacity(keys.len()), cpu_seconds());
    let (mut shards, mut names) = (0, 0);
    let mut apply_us = 0.0;
    for (i, key) in keys.iter().enumerate() {
        let t = Instant::now();
        engine.apply_changes(vec![update(i, key)]);
        apply_us += t.elapsed().as_secs_f64() * 1e6;
        let (next, info) = engine.publish(&served).unwrap();
        served = next;
        engine.let_go_of_nodes();
        shards += info.shards;
        names += info.names;
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let cpu_us = (cpu_seconds() - cpu0) * 1e6 / keys.len() as f64;
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "single_events n={} cpu_us_per_event={cpu_us:.1} apply_us={:.1} p50_us={:.1} p99_us={:.1} shards_per_publish={:.1} names_per_publish={:.1}",
        keys.len(),
        apply_us / keys.len() as f64,
        pct(0.5),
        pct(0.99),
        shards as f64 / keys.len() as f64,
        names as f64 / keys.len() as f64
    );

    // Bursts of 100 events, one publish each.
    let cpu0 = cpu_seconds();
    let t = Instant::now();
    for (round, chunk) in keys.chunks(100).enumerate() {
        let changes = chunk
            .iter()
            .enumerate()
            .map(|(i, k)| update(events + round * 100 + i, k))
            .collect();
        engine.apply_changes(changes);
        served = engine.publish(&served).unwrap().0;
        engine.let_go_of_nodes();
    }
    println!(
        "bursts_of_100 cpu_us_per_event={:.1} wall_us_per_event={:.1}",
        (cpu_seconds() - cpu0) * 1e6 / keys.len() as f64,
        t.elapsed().as_secs_f64() * 1e6 / keys.len() as f64
    );

    // A poll whose document changed one task: decode, convert, diff against the model,
    // publish. The model first goes back to the file's state.
    let read = || {
        State::from_reader(std::fs::File::open(&path).unwrap())
            .unwrap()
            .into_cluster_state()
    };
    engine.apply_state(read(), &masters, &listener);
    served = engine.publish(&served).unwrap().0;
    engine.let_go_of_nodes();
    let t = Instant::now();
    let mut changed = read();
    let read_ms = t.elapsed().as_secs_f64() * 1e3;
    if let Some(task) = changed.tasks.iter_mut().find(|t| t.running) {
        task.running = false;
    }
    let t = Instant::now();
    engine.apply_state(changed, &masters, &listener);
    let (_, info) = engine.publish(&served).unwrap();
    println!(
        "one_task_poll decode_and_convert_ms={read_ms:.0} diff_and_publish_ms={:.0} shards={} records_changed={:?} peak_rss_mb={:.0}",
        t.elapsed().as_secs_f64() * 1e3,
        info.shards,
        info.records_changed,
        process_memory_mb("VmHWM:")
    );
}
