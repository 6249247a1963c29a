//! A JSON task list read straight into the model's form, each task compacted and
//! sharing strings with the list's other tasks as it is read. Used where a list is
//! decoded in place: a record of the stream, a document decoded whole. A large document
//! streamed in has its lists cut out and decoded on every core instead (`split`).

use crate::cluster::{self, TaskSharing};
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};

/// Reads a JSON list of tasks (or `null`, read as empty) into the model's form, each
/// converted by `convert`, compacted and sharing strings with the others.
pub(crate) fn tasks_into_model<'de, D, T>(
    d: D,
    convert: fn(T) -> cluster::Task,
) -> Result<Vec<cluster::Task>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    d.deserialize_option(TaskList(convert))
}

struct TaskList<T>(fn(T) -> cluster::Task);

impl<'de, T: Deserialize<'de>> Visitor<'de> for TaskList<T> {
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
        let mut sharing = TaskSharing::default();
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(decoded) = seq.next_element::<T>()? {
            let mut task = (self.0)(decoded);
            task.compact();
            sharing.share(&mut task);
            out.push(task);
        }
        Ok(out)
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

    #[test]
    fn a_list_is_converted_compacted_and_shared() {
        let task = |i: usize| {
            format!(
                r#"{{"id":"app.{i}","name":"app","framework_id":"fw-1","slave_id":"agent-{agent}","state":"TASK_RUNNING","resources":{{"ports":"[{port}-{port}]"}}}}"#,
                agent = i % 3,
                port = 31_000 + i,
            )
        };
        let list: Vec<String> = (0..10).map(task).collect();
        let json = format!("{{\"tasks\":[{}]}}", list.join(","));
        let decoded: List = serde_json::from_str(&json).unwrap(); // ok: test
        let one_by_one: Vec<cluster::Task> = (0..10)
            .map(|i| {
                serde_json::from_str::<Task>(&task(i))
                    .unwrap()
                    .into_cluster_task()
            }) // ok: test
            .collect();
        assert_eq!(decoded.tasks, one_by_one);
        assert!(
            decoded
                .tasks
                .iter()
                .all(|t| t.running && t.ports.len() == 1)
        );
        // Tasks of one agent hold one copy of its id.
        assert!(Arc::ptr_eq(
            &decoded.tasks[0].agent_id,
            &decoded.tasks[3].agent_id
        ));
        let null: List = serde_json::from_str("{\"tasks\":null}").unwrap(); // ok: test
        assert!(null.tasks.is_empty());
        assert!(serde_json::from_str::<List>("{\"tasks\":[{\"id\":7}]}").is_err());
    }
}
