//! A task list decoded on one thread and turned into the model's form on another: at a
//! first load of 100k tasks the decoder (serde_json) and the conversion (interning the
//! tasks' strings, `TaskSharing`) each take a good share of the time, and the second
//! core is otherwise idle until the document is read. The model's list comes out in
//! document order, its strings shared exactly as one thread would share them.

use crate::cluster::{self, TaskSharing};
use crossbeam_channel::{Receiver, bounded};
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};

/// Tasks converted on the decoding thread before a helper takes over: a short list is
/// not worth a thread.
const BEFORE_HELPER: usize = 2048;
/// Decoded tasks handed over at a time.
const BATCH: usize = 256;
/// Batches in flight: bounds what the decoder runs ahead by (`BATCH` decoded tasks each).
const IN_FLIGHT: usize = 8;

/// Converts decoded tasks into the model's, in order.
struct Converter<T> {
    convert: fn(T) -> cluster::Task,
    sharing: TaskSharing,
    out: Vec<cluster::Task>,
}

impl<T> Converter<T> {
    fn push(&mut self, decoded: T) {
        let mut task = (self.convert)(decoded);
        task.compact();
        self.sharing.share(&mut task);
        self.out.push(task);
    }

    /// Converts every batch received, until the sender hangs up.
    fn drain(mut self, batches: Receiver<Vec<T>>) -> Self {
        for batch in batches {
            for task in batch {
                self.push(task);
            }
        }
        self
    }
}

/// Reads a JSON list of tasks (or `null`, read as empty) into the model's form, each
/// converted by `convert`, compacted and sharing strings with the others.
pub(crate) fn tasks_into_model<'de, D, T>(
    d: D,
    convert: fn(T) -> cluster::Task,
) -> Result<Vec<cluster::Task>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Send,
{
    d.deserialize_option(TaskList(convert))
}

struct TaskList<T>(fn(T) -> cluster::Task);

/// Converts tasks on this thread until the list ends (true) or `limit` are converted.
fn convert_here<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    converter: &mut Converter<T>,
    limit: usize,
) -> Result<bool, A::Error> {
    while converter.out.len() < limit {
        match seq.next_element::<T>()? {
            Some(task) => converter.push(task),
            None => return Ok(true),
        }
    }
    Ok(false)
}

impl<'de, T: Deserialize<'de> + Send> Visitor<'de> for TaskList<T> {
    type Value = Vec<cluster::Task>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of tasks")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut converter = Converter {
            convert: self.0,
            sharing: TaskSharing::default(),
            out: Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096)),
        };
        if convert_here(&mut seq, &mut converter, BEFORE_HELPER)? {
            return Ok(converter.out);
        }
        std::thread::scope(|scope| {
            let (hand_over, take_over) = bounded(1);
            let (batches, to_convert) = bounded::<Vec<T>>(IN_FLIGHT);
            let helper = std::thread::Builder::new()
                .name("task-convert".into())
                .spawn_scoped(scope, move || {
                    let converter: Converter<T> = take_over.recv().ok()?;
                    Some(converter.drain(to_convert))
                });
            let Ok(helper) = helper else {
                // No thread to be had: convert here, as a short list is.
                convert_here(&mut seq, &mut converter, usize::MAX)?;
                return Ok(converter.out);
            };
            // The helper is waiting for exactly this.
            let _ = hand_over.send(converter);
            let mut batch = Vec::with_capacity(BATCH);
            let decoded = loop {
                match seq.next_element::<T>() {
                    Ok(Some(task)) => batch.push(task),
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                }
                // A failed send means the helper is gone (it panicked): join says so.
                if batch.len() == BATCH && batches.send(std::mem::take(&mut batch)).is_err() {
                    break Ok(());
                }
            };
            if decoded.is_ok() && !batch.is_empty() {
                let _ = batches.send(batch);
            }
            drop(batches);
            let converted = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            decoded?;
            converted
                .map(|c| c.out)
                .ok_or_else(|| serde::de::Error::custom("the task converter stopped"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesos::state::Task;
    use std::sync::Arc;

    #[derive(Deserialize)]
    struct List {
        #[serde(deserialize_with = "state_tasks")]
        tasks: Vec<cluster::Task>,
    }

    fn state_tasks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<cluster::Task>, D::Error> {
        tasks_into_model(d, Task::into_cluster_task)
    }

    /// A document with a list of `tasks` running tasks, as `/master/state` lists them.
    fn tasks_json(tasks: usize) -> String {
        let task = |i: usize| {
            format!(
                r#"{{"id":"app{app}.{i}","name":"app{app}","framework_id":"fw-1","slave_id":"agent-{agent}","state":"TASK_RUNNING","resources":{{"ports":"[{port}-{port}]"}},"statuses":[{{"state":"TASK_RUNNING","timestamp":{i}.5,"container_status":{{"network_infos":[{{"ip_addresses":[{{"ip_address":"10.1.{}.{}"}}]}}]}}}}],"labels":[{{"key":"team","value":"t{app}"}}]}}"#,
                i / 250,
                i % 250,
                app = i % 70,
                agent = i % 300,
                port = 31_000 + i % 1000,
            )
        };
        let list: Vec<String> = (0..tasks).map(task).collect();
        format!("{{\"tasks\":[{}]}}", list.join(","))
    }

    #[test]
    fn a_long_list_converts_on_a_helper_as_it_would_here() {
        let json = tasks_json(5_000);
        let decoded: List = serde_json::from_str(&json).unwrap(); // ok: test
        assert!(
            decoded.tasks.len() > BEFORE_HELPER + 3 * BATCH,
            "{} tasks: the helper took none",
            decoded.tasks.len()
        );
        // The same list converted task by task on this thread.
        let raw: Vec<Task> = serde_json::from_str::<serde_json::Value>(&json)
            .map(|v| serde_json::from_value(v["tasks"].clone()).unwrap()) // ok: test
            .unwrap(); // ok: test
        let mut here = Converter {
            convert: Task::into_cluster_task,
            sharing: TaskSharing::default(),
            out: Vec::new(),
        };
        for task in raw {
            here.push(task);
        }
        assert_eq!(decoded.tasks, here.out);
        assert!(
            decoded
                .tasks
                .iter()
                .all(|t| t.running && t.ports.len() == 1)
        );
        // Strings are shared across the hand-over: tasks of one agent, one before and
        // one after it, hold the same copy of its id.
        let (first, last) = (&decoded.tasks[0], decoded.tasks.last().unwrap()); // ok: test
        let same_agent = decoded.tasks[BEFORE_HELPER..]
            .iter()
            .find(|t| t.agent_id == first.agent_id)
            .unwrap(); // ok: test
        assert!(Arc::ptr_eq(&first.agent_id, &same_agent.agent_id));
        assert!(Arc::ptr_eq(&first.framework_id, &last.framework_id));
    }

    #[test]
    fn a_bad_task_after_the_hand_over_fails_the_list() {
        let json = tasks_json(5_000);
        assert!(json.matches("\"slave_id\"").count() > BEFORE_HELPER + BATCH);
        let cut = json.len() - 200;
        let broken = format!(
            "{}{{\"id\":7}}]}}",
            &json[..json[..cut].rfind("},{").unwrap() + 2]
        ); // ok: test
        assert!(serde_json::from_str::<List>(&broken).is_err());
        assert!(
            serde_json::from_str::<List>("{\"tasks\":null}")
                .unwrap()
                .tasks
                .is_empty()
        ); // ok: test
    }
}
