//! Writes a synthetic master state document:
//! `synth-state TASKS [SEED] [uniform|long-tail] > state.json`.

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use mesos_dns::synth::{ClusterShape, SynthParams, write_state};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parse = |i: usize, default: u64| -> Option<u64> {
        args.get(i)
            .map_or(Some(default), |a| a.replace('_', "").parse().ok())
    };
    let shape = ClusterShape::from_name(args.get(2).map_or("uniform", String::as_str));
    let (Some(tasks), Some(seed), Some(shape)) = (parse(0, 1000), parse(1, 1), shape) else {
        eprintln!(
            "usage: synth-state [RUNNING_TASKS (default 1000)] [SEED (default 1)] [uniform|long-tail (default uniform)] > state.json"
        );
        return ExitCode::from(2);
    };
    let params = SynthParams {
        running_tasks: tasks as usize,
        seed,
        shape,
    };
    match write_state(params, std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth-state: {e}");
            ExitCode::FAILURE
        }
    }
}
