//! The answer path (parse + lookup + copy + patch) per query type, against the snapshot of
//! a synthetic 10k-task state. `cargo bench --bench answer`
#![allow(clippy::unwrap_used, clippy::expect_used)] // ok: a benchmark

mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mesos_dns::answer::{Transport, answer};
use std::hint::black_box;
use support::{packet, snapshot};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn bench(c: &mut Criterion) {
    let (snap, a_name, srv_name) = snapshot(10_000);
    let cases = [
        ("A", packet(&a_name, 1, false)),
        ("A_edns", packet(&a_name, 1, true)),
        ("AAAA_nodata", packet(&a_name, 28, false)),
        ("SRV", packet(&srv_name, 33, false)),
        ("NXDOMAIN", packet("nothing-here.marathon.mesos.", 1, false)),
        ("ANY", packet(&a_name, 255, false)),
        (
            "malformed",
            vec![0x12, 0x34, 0x01, 0x00, 0, 2, 0, 0, 0, 0, 0, 0],
        ),
    ];
    let mut group = c.benchmark_group("answer");
    group.throughput(Throughput::Elements(1));
    let mut out = vec![0u8; 65535];
    for (name, query) in &cases {
        let mut rotation = 0u32;
        group.bench_function(*name, |b| {
            b.iter(|| {
                rotation = rotation.wrapping_add(1);
                black_box(answer(
                    black_box(query),
                    &snap,
                    rotation,
                    Transport::Udp,
                    &mut out,
                ))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
