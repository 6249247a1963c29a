//! Nodes let go where the answer sets stand for them: where every value of a name is
//! held once and served (all of a transferred zone; on a primary, every value but those
//! two items publish, and PTR candidates, whose rank sets do not keep), a name's values
//! are the records its sets already hold in wire form. After each publish, a shard whose nodes its sets can
//! give back exactly lets them go ([`ZoneStore::let_go_of_nodes`]); what sets do not
//! say (a target's referrers, a name's count of names below) is kept aside. A change
//! gives one name its node back from its sets ([`ZoneStore::restore`]) before anything
//! of it is changed; the other names of its shard keep standing by their sets (their
//! nodes marked [`LET_GO`]) until they change too. Reads that change nothing (an SRV
//! target's addresses, whether a name is in the zone, an IXFR's deletions checked,
//! `/v1/axfr`) read the sets of a name whose node was let go.

use super::{NameId, Node, RData, Values, ZoneStore, id_of, place};
use crate::allocator::return_freed_pages;
use crate::snapshot::sets::{Rdata, RrSet};
use crate::snapshot::shards::SHARDS;
use std::borrow::Cow;
use std::net::IpAddr;

/// A shard with a name of more values than this keeps its nodes: giving back an SRV set
/// of a large app decodes and looks up every target, at each change of the app. (A
/// bound on the shard's sum instead kept the nodes of most shards from 300k tasks on,
/// where a shard holds some 60 names.)
const LARGE_NAME_VALUES: usize = 256;

/// The `below` of a node let go in a shard that holds nodes for others: its sets and
/// what was kept aside stand for it (no name has this many names below it).
pub(super) const LET_GO: u32 = u32::MAX;

/// The RDATA of each record of a set, if any.
fn rdata_of(set: Option<&RrSet>) -> impl Iterator<Item = Rdata<'_>> {
    set.into_iter().flat_map(RrSet::rdatas)
}

impl ZoneStore {
    /// Lets go of the nodes of every shard whose answer sets can give them back (every
    /// value held once and served, and given back as it is). Called after
    /// each publish: the first time it looks at every shard (a store filled record by
    /// record; a whole load made nodes only where they are needed), then at the shards
    /// that gave a node back since. A shard keeps its nodes while any cannot be given back
    /// exactly, or while one holds more than [`LARGE_NAME_VALUES`] values.
    pub fn let_go_of_nodes(&mut self) {
        if self.ptr_unique || !self.noting {
            return;
        }
        let first = !self.lean;
        let shards: Vec<usize> = if first {
            self.lean = true;
            (0..SHARDS).collect()
        } else {
            self.table.take_regained()
        };
        for shard in shards {
            if self.table.holds_nodes(shard) && self.can_let_go(shard) {
                self.let_go(shard);
            }
            // The first time frees a whole zone's nodes while the referrers kept aside
            // grow: the freed pages go back an eighth of the shards at a time, rather
            // than adding to the peak until the allocator's decay returns them.
            if first && (shard + 1) % (SHARDS / 8) == 0 {
                return_freed_pages();
            }
        }
    }

    /// Whether the sets of `shard` give back every node it holds, and no node holds
    /// many values.
    fn can_let_go(&self, shard: usize) -> bool {
        for (slot, node) in self.table.nodes(shard) {
            if node.below == LET_GO || !node.has_records() {
                continue;
            }
            let restorable = node.values.restorable_count(self.restores_generated_srv());
            if node.dirty || !self.sets_stand_for(id_of(shard, slot), restorable, || node.in_zone) {
                return false;
            }
        }
        true
    }

    /// Lets go of the nodes of `shard`, keeping aside what their sets do not say.
    pub(super) fn let_go(&mut self, shard: usize) {
        for (slot, node) in self.table.let_go(shard).into_iter().enumerate() {
            if node.below == LET_GO {
                continue;
            }
            let id = id_of(shard, slot);
            if node.indexed {
                self.value_indexes.remove(&id);
            }
            self.kept_referrers.put(id, &node.referrers);
            if node.below > 0 {
                self.kept_below.insert(id, node.below);
            }
        }
    }

    /// Gives a shard whose nodes were let go a node per slot again, each marked
    /// [`LET_GO`] (restored one by one as its name changes).
    pub(super) fn open_shard(&mut self, shard: usize) {
        if self.table.holds_nodes(shard) {
            return;
        }
        let let_go = Node {
            below: LET_GO,
            ..Node::default()
        };
        let nodes = vec![let_go; self.table.get(shard).slot_count()];
        self.table.regain(shard, nodes);
    }

    /// Gives the name of `id` its node back from its sets, with what was kept aside,
    /// before anything of it changes.
    pub(super) fn restore(&mut self, id: NameId) {
        let (shard, slot) = place(id);
        self.open_shard(shard);
        if self.table.node(shard, slot).below != LET_GO {
            return;
        }
        let mut node = Node::default();
        let unresolved = self.node_from_sets(id, &mut node);
        self.inconsistencies += unresolved as u64;
        self.take_kept(id, &mut node);
        *self.table.node_mut(shard, slot) = node;
    }

    /// What was kept aside for a node let go, back into it (its referrers, its count of
    /// names below), and the index of its values when they are many.
    pub(super) fn take_kept(&mut self, id: NameId, node: &mut Node) {
        let referrers = self.kept_referrers.take(id);
        if !referrers.is_empty() {
            node.referrers = referrers;
        }
        if let Some(below) = self.kept_below.remove(&id) {
            node.below = below;
        }
        if node.values.wants_index() {
            node.indexed = true;
            self.value_indexes.insert(id, node.values.index());
        }
    }

    /// Whether the sets of name `id` stand for its values, of which `restorable` can be
    /// given back as they are (`None`: some cannot, [`Values::restorable_count`]): not
    /// many, the name in the zone (`in_zone`, asked last), and every one in its sets.
    /// The rule a let-go and a whole load both apply.
    pub(super) fn sets_stand_for(
        &self,
        id: NameId,
        restorable: Option<usize>,
        in_zone: impl FnOnce() -> bool,
    ) -> bool {
        restorable.is_some_and(|count| {
            count <= LARGE_NAME_VALUES && count == self.records_in_sets(id) && in_zone()
        })
    }

    /// How many records the sets of a name hold (none when it is not served).
    fn records_in_sets(&self, id: NameId) -> usize {
        let (shard, slot) = place(id);
        self.table
            .get(shard)
            .sets(slot)
            .map_or(0, |sets| sets.into_iter().flatten().map(RrSet::count).sum())
    }

    /// The name's node, when the store holds it (not let go).
    pub(super) fn held_node(&self, id: NameId) -> Option<&Node> {
        let (shard, slot) = place(id);
        if !self.table.holds_nodes(shard) {
            return None;
        }
        let node = self.table.node(shard, slot);
        (node.below != LET_GO).then_some(node)
    }

    /// Shards holding names, none of whose nodes is held.
    pub fn shards_without_nodes(&self) -> usize {
        (0..SHARDS)
            .filter(|&s| !self.table.holds_nodes(s) && self.table.get(s).slot_count() > 0)
            .count()
    }

    /// Every node back (to compile the whole zone).
    pub fn regain_all_nodes(&mut self) {
        for shard in 0..SHARDS {
            let table = self.table.get(shard);
            let held: Vec<usize> = (0..table.slot_count())
                .filter(|&slot| table.is_held(slot))
                .collect();
            for slot in held {
                self.restore(id_of(shard, slot));
            }
        }
    }

    /// The node of a name whose node was let go, from its sets, without its referrers
    /// and names below; how many SRV or PTR targets were not found (none unless the
    /// store is inconsistent: a target is held while it is referred to).
    fn node_from_sets(&self, id: NameId, node: &mut Node) -> usize {
        let (shard, slot) = place(id);
        let table = self.table.get(shard);
        node.in_zone = self.key_in_zone(&table.key(slot));
        let Some(sets) = table.sets(slot) else {
            return 0;
        };
        let mut unresolved = 0;
        let mut target = |rdata: &[u8]| {
            let found = self.find_key(rdata);
            unresolved += usize::from(found.is_none());
            found
        };
        let [a, aaaa, srv, ptr] = sets;
        let mut values = Vec::new();
        let addresses = [a, aaaa].into_iter().flatten().flat_map(RrSet::addresses);
        values.extend(addresses.map(|ip| match ip {
            IpAddr::V4(ip) => RData::A(ip),
            IpAddr::V6(ip) => RData::Aaaa(ip),
        }));
        for d in rdata_of(srv).filter(|d| d.len() > 6) {
            let number = |at: usize| u16::from_be_bytes([d[at], d[at + 1]]);
            if let Some(id) = target(&d[6..]) {
                let (port, priority, weight) = (number(4), number(0), number(2));
                values.push(match self.generated_srv_weight {
                    Some(generated) if priority == 0 && weight == generated => {
                        RData::Srv { target: id, port }
                    }
                    _ => RData::Service {
                        target: id,
                        port,
                        priority,
                        weight,
                    },
                });
            }
        }
        for d in rdata_of(ptr) {
            if let Some(id) = target(&d) {
                values.push(RData::Ptr {
                    target: id,
                    rank: 0,
                });
            }
        }
        node.values = Values::from_unique(values.iter().copied());
        node.live = node.serves(self.ptr_unique);
        unresolved
    }

    /// A name's node as it is, or as its sets give it back when it was let go (without
    /// referrers and names below).
    pub fn node_view(&self, id: NameId) -> Cow<'_, Node> {
        if let Some(node) = self.held_node(id) {
            return Cow::Borrowed(node);
        }
        let mut node = Node::default();
        self.node_from_sets(id, &mut node);
        Cow::Owned(node)
    }

    /// Whether a name is at or below an apex (only such names are served).
    pub fn in_zone(&self, id: NameId) -> bool {
        if let Some(node) = self.held_node(id) {
            return node.in_zone;
        }
        self.id_in_zone(id)
    }

    /// A name's addresses into `out`, sorted: every A (IPv4) before every AAAA. From
    /// its sets when its node was let go (nothing of it changed since), or from the
    /// records of a whole zone being compiled.
    pub fn addresses(&self, id: NameId, out: &mut Vec<IpAddr>) {
        out.clear();
        if let Some(node) = self.held_node(id) {
            out.extend(node.a().map(IpAddr::V4));
            out.extend(node.aaaa().map(IpAddr::V6));
        } else if self.loading.holds(place(id).0) {
            self.loaded_addresses(id, out);
        } else if let Some([a, aaaa, ..]) = self.table.get(place(id).0).sets(place(id).1) {
            out.extend([a, aaaa].into_iter().flatten().flat_map(RrSet::addresses));
        }
        out.sort_unstable();
    }
}
