//! Everything read from Mesos: leader detection, the state document and the operator API
//! stream, and the address formats in them. Sources hand what they read to the control
//! thread as [`events::SourceEvent`]s; nothing here knows the control loop.

pub(crate) mod backoff;
pub(crate) mod detect;
pub(crate) mod digest;
pub(crate) mod events;
pub(crate) mod feed;
pub(crate) mod gather;
pub mod generate;
pub(crate) mod iam;
pub mod operator;
pub(crate) mod poll;
pub(crate) mod ports;
pub mod recordio;
pub(crate) mod source;
pub(crate) mod split;
pub mod state;
pub(crate) mod subscribe;
pub(crate) mod task_list;
pub(crate) mod zk;

/// Work on a source or control thread (decoding, generating, compiling: seconds of CPU
/// at 100k tasks) yields to the query path: such threads run at the lowest priority, so
/// a worker waking for a query preempts them at once. Only the calling thread.
pub fn lower_priority() {
    let this_thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(this_thread), BACKGROUND_NICE) {
        tracing::debug!("could not lower a background thread's priority: {e}");
    }
}

/// Nice value of background threads (19 is the lowest priority; they still get a share
/// of the CPU, so refreshes continue even with the workers saturated).
const BACKGROUND_NICE: i32 = 19;
