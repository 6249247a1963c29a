#![allow(clippy::unwrap_used)]
use mesos_dns::cluster::Cluster;
use mesos_dns::mesos::state::State;
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
fn live() -> usize {
    tikv_jemalloc_ctl::epoch::advance().unwrap();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap()
}
fn main() {
    let bytes = std::fs::read(std::env::args().nth(1).unwrap()).unwrap();
    let base = live();
    let state = State::from_slice(&bytes).unwrap().into_cluster_state();
    let n = state.tasks.len();
    let cs = live() - base;
    let cluster = Cluster::from_state(state.clone(), vec![], vec![]);
    let model = live() - base - cs;
    println!(
        "tasks {n} clusterstate {:.1} MB model {:.1} MB ({} B/task) task inline {}",
        cs as f64 / 1e6,
        model as f64 / 1e6,
        model / n,
        std::mem::size_of::<mesos_dns::cluster::Task>()
    );
    let mut s = state.clone();
    let b = live();
    for t in &mut s.tasks {
        t.discovery = None;
    }
    println!("discovery: {:.1} MB", (b - live()) as f64 / 1e6);
    let b = live();
    for t in &mut s.tasks {
        t.running_statuses = Vec::new();
    }
    println!("statuses: {:.1} MB", (b - live()) as f64 / 1e6);
    let b = live();
    for t in &mut s.tasks {
        t.id = "".into();
    }
    println!("ids: {:.1} MB", (b - live()) as f64 / 1e6);
    let b = live();
    for t in &mut s.tasks {
        t.name = "".into();
    }
    println!("names: {:.1} MB", (b - live()) as f64 / 1e6);
    let b = live();
    for t in &mut s.tasks {
        t.ports = Box::new([]);
        t.vip_labels = Vec::new();
        t.malformed_ports = None;
    }
    println!("ports+vips: {:.1} MB", (b - live()) as f64 / 1e6);
    let b = live();
    for t in &mut s.tasks {
        t.framework_id = "".into();
        t.agent_id = "".into();
    }
    println!("fw/agent arcs: {:.1} MB", (b - live()) as f64 / 1e6);
    drop(cluster);
}
