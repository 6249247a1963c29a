//! [`Interner`]: one shared copy of a value many tasks carry alike (the tasks of one
//! app have the same name and DiscoveryInfo; every task of an agent or a framework names
//! the same id), so the model holds it once.

use std::hash::Hash;
use std::sync::Arc;

/// Shared copies of the values in use.
#[derive(Debug)]
pub(crate) struct Interner<T: ?Sized> {
    held: super::HashSet<Arc<T>>,
    /// Values held after the last sweep: the next waits until the set doubles, so a
    /// sweep's cost is spread over as many new values.
    after_sweep: usize,
}

impl<T: ?Sized> Clone for Interner<T> {
    fn clone(&self) -> Self {
        Interner {
            held: self.held.clone(),
            after_sweep: self.after_sweep,
        }
    }
}

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner {
            held: super::HashSet::default(),
            after_sweep: 0,
        }
    }
}

impl<T: ?Sized + Hash + Eq> Interner<T> {
    /// The shared copy equal to `value` (which becomes it when there is none).
    pub(crate) fn share(&mut self, value: &Arc<T>) -> Arc<T> {
        if let Some(held) = self.held.get(&**value) {
            return held.clone();
        }
        // Values no task holds any more go, once the set has doubled since the last sweep.
        if self.held.len() >= (2 * self.after_sweep).max(1024) {
            self.held.retain(|v| Arc::strong_count(v) > 1);
            self.after_sweep = self.held.len();
        }
        self.held.insert(value.clone());
        value.clone()
    }
}

/// What tasks share: their framework and agent ids, names and DiscoveryInfo shapes.
#[derive(Clone, Debug, Default)]
pub struct TaskSharing {
    ids: Interner<str>,
    names: Interner<str>,
    discoveries: Interner<super::facts::DiscoveryShape>,
}

impl TaskSharing {
    /// Points `task`'s shareable parts at the shared copies.
    pub fn share(&mut self, task: &mut super::Task) {
        task.framework_id = self.ids.share(&task.framework_id);
        task.agent_id = self.ids.share(&task.agent_id);
        task.name = self.names.share(&task.name);
        if let Some(discovery) = &mut task.discovery {
            let shared = self.discoveries.share(discovery.shape());
            discovery.set_shape(shared);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_copy_and_unused_ones_go() {
        let mut names: Interner<str> = Interner::default();
        let a = names.share(&Arc::from("web"));
        let b = names.share(&Arc::from("web"));
        assert!(Arc::ptr_eq(&a, &b));
        drop((a, b));
        // Past the first sweep's size, values nobody holds are dropped.
        let kept: Vec<Arc<str>> = (0..1100)
            .map(|i| names.share(&Arc::from(format!("app-{i}"))))
            .collect();
        assert_eq!(names.held.len(), kept.len());
    }

    #[test]
    fn tasks_of_one_app_share_its_discovery_shape_and_keep_their_port_numbers() {
        use crate::cluster::{Discovery, PortShape, Task};
        let task = |number: i64| Task {
            discovery: Some(Discovery::new(
                "web",
                vec![(
                    number,
                    PortShape {
                        protocol: "tcp".into(),
                        name: "http".into(),
                        vips: vec!["/web:80".into()].into(),
                    },
                )],
            )),
            ..Task::default()
        };
        let mut sharing = TaskSharing::default();
        let (mut a, mut b) = (task(31000), task(31001));
        sharing.share(&mut a);
        sharing.share(&mut b);
        let (Some(da), Some(db)) = (&a.discovery, &b.discovery) else {
            unreachable!("both have DiscoveryInfo") // ok: test
        };
        assert!(Arc::ptr_eq(da.shape(), db.shape()));
        let numbers = |d: &Discovery| d.ports().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!((numbers(da), numbers(db)), (vec![31000], vec![31001]));
        assert_eq!(da.name(), "web");
        // Another name is another shape.
        let mut c = task(31002);
        c.discovery = Some(Discovery::new("api", vec![]));
        sharing.share(&mut c);
        let Some(dc) = &c.discovery else {
            unreachable!("it has DiscoveryInfo") // ok: test
        };
        assert!(!Arc::ptr_eq(da.shape(), dc.shape()));
    }
}
