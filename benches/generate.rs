//! Decode + generate for synthetic states of 10k and 100k running tasks.
//! `cargo bench --bench generate`; figures go to perf/README.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a benchmark

use criterion::{Criterion, criterion_group, criterion_main};
use mesos_dns::mesos::state::State;
use mesos_dns::synth::{benchmark_config, generate_records, state_document};
use std::hint::black_box;
use std::time::Duration;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn bench(c: &mut Criterion) {
    let config = benchmark_config();
    let mut group = c.benchmark_group("decode_generate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(15));
    for tasks in [10_000, 100_000] {
        let doc = state_document(tasks, 1);
        group.bench_function(format!("{tasks}_tasks"), |b| {
            b.iter(|| {
                let state = State::from_reader(black_box(&doc[..])).unwrap();
                black_box(generate_records(&config, &state))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
