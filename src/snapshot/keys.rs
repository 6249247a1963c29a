//! A name's store key: its lower-cased wire form, or for a name without one a marker
//! octet and its lower-cased text; read back as text, and ordered as the text would be.
//! [`NameKeys`] makes an item's keys and their hashes where its records are made, so
//! the thread that stores them only looks them up.

use crate::dns::wire::name_to_wire;
use crate::records::ItemRecords;

/// The first byte of the key of a name that has no wire form (a label empty or past 63
/// octets, or the name past 255): its lower-cased text follows. Such a name is never
/// served; it is held while a record refers to it. No wire name starts with it.
pub(super) const NO_WIRE_FORM: u8 = 0xFF;

/// Whether a store key is a wire name (rather than a name without one).
pub(crate) fn is_wire(key: &[u8]) -> bool {
    key.first() != Some(&NO_WIRE_FORM)
}

/// The store key of a name given as text: its lower-cased wire form, or for a name
/// without one, [`NO_WIRE_FORM`] and its lower-cased text. `None` past 64 KiB.
pub(super) fn store_key(name: &str, out: &mut Vec<u8>) -> Option<()> {
    if name_to_wire(name, true, out).is_some() {
        return Some(());
    }
    if name.len() >= usize::from(u16::MAX) {
        return None;
    }
    out.push(NO_WIRE_FORM);
    out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
    Some(())
}

/// A name's key as a shard gives it back: kept whole there, or joined again from its
/// first label and its parent (`snapshot::suffixes`), in place (a wire name is at most
/// 255 octets).
// Large on purpose: a joined key is made on the stack, never allocated (the control
// thread reads keys for every changed name).
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum Key<'a> {
    /// Kept whole.
    Whole(&'a [u8]),
    /// Joined again.
    Joined {
        /// How many of `octets` are the key's.
        len: u8,
        /// The key, then room.
        octets: [u8; 255],
    },
}

impl<'a> Key<'a> {
    /// The key of a name whose first label is `label` (its octets) and whose parent
    /// is `parent` (wire form).
    pub(super) fn joined(label: &[u8], parent: &[u8]) -> Key<'a> {
        let mut octets = [0; 255];
        let label = &label[..label.len().min(63)];
        let parent = &parent[..parent.len().min(254 - label.len())];
        octets[0] = label.len() as u8;
        octets[1..1 + label.len()].copy_from_slice(label);
        octets[1 + label.len()..1 + label.len() + parent.len()].copy_from_slice(parent);
        Key::Joined {
            len: (1 + label.len() + parent.len()) as u8,
            octets,
        }
    }
}

impl std::ops::Deref for Key<'_> {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Key::Whole(key) => key,
            Key::Joined { len, octets } => &octets[..usize::from(*len)],
        }
    }
}

impl std::fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&key_text(self))
    }
}

impl PartialEq for Key<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// The first octet of a key a shard keeps split: `SPLIT | the first label's length`,
/// the label, then its parent's number (two octets, little-endian). No wire name starts
/// with an octet past 63, and [`NO_WIRE_FORM`] has other bits.
pub(super) const SPLIT: u8 = 0x40;

/// A wire key's first label and its parent, when it has one (a name of two labels or
/// more).
pub(super) fn split_key(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let &first = key.first()?;
    if first == 0 || first > 63 {
        return None;
    }
    let own = key.get(..1 + usize::from(first))?;
    let parent = &key[own.len()..];
    // The parent is a name of one label or more (not the root alone).
    (parent.len() > 1).then_some((own, parent))
}

/// A key as a shard keeps it: whole, or split (its first label, then its parent's
/// number) when `parent_id` is given.
pub(super) fn stored_form(key: &[u8], parent_id: Option<u16>, out: &mut impl Extend<u8>) {
    match (parent_id, split_key(key)) {
        (Some(id), Some((own, _))) => {
            out.extend([SPLIT | own[0]]);
            out.extend(own[1..].iter().copied());
            out.extend(id.to_le_bytes());
        }
        _ => out.extend(key.iter().copied()),
    }
}

/// A kept key's first label (its octets) and its parent's number, when it is split.
#[inline]
pub(super) fn split_parts(stored: &[u8]) -> Option<(&[u8], u16)> {
    let &first = stored.first()?;
    if first & 0xC0 != SPLIT {
        return None;
    }
    let (label, id) = stored[1..].split_last_chunk::<2>()?;
    Some((label, u16::from_le_bytes(*id)))
}

/// A store key as text (lower case, trailing dot).
pub(crate) fn key_text(key: &[u8]) -> String {
    match key.split_first() {
        Some((&NO_WIRE_FORM, text)) => String::from_utf8_lossy(text).into_owned(),
        _ => super::wire_to_text(key).unwrap_or_default(),
    }
}

/// Orders two store keys as their names' text would be ordered (`a.b.` before `a0.`),
/// without writing the text out.
pub(crate) fn text_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if !is_wire(a) || !is_wire(b) {
        return TextBytes::of(a).cmp(TextBytes::of(b));
    }
    // Up to the first octet that differs, both names have the same labels: that octet
    // is a label's content in both, or a length octet in both.
    let Some(i) = first_difference(a, b) else {
        return a.len().cmp(&b.len());
    };
    let mut length_at = 0;
    while length_at < i {
        length_at += 1 + usize::from(a[length_at]);
    }
    if length_at != i {
        return a[i].cmp(&b[i]);
    }
    // Labels of different lengths: their common part, then the shorter one's end (a dot
    // in the text) against the longer one's next octet.
    fn label(name: &[u8], at: usize) -> &[u8] {
        let len = usize::from(name[at]);
        name.get(at + 1..at + 1 + len).unwrap_or_default()
    }
    let (la, lb) = (label(a, i), label(b, i));
    let common = la.len().min(lb.len());
    match la[..common].cmp(&lb[..common]) {
        Ordering::Equal => {}
        order => return order,
    }
    match (la.get(common), lb.get(common)) {
        (None, Some(&next)) => b'.'.cmp(&next),
        (Some(&next), None) => next.cmp(&b'.'),
        _ => TextBytes::of(a).cmp(TextBytes::of(b)),
    }
}

/// Where `a` and `b` first differ within their common length, eight octets at a time:
/// an SRV set's targets share their app's long prefix, and sorting them by name is most
/// of what remaking the set costs.
fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let common = a.len().min(b.len());
    let (a, b) = (&a[..common], &b[..common]);
    let mut at = 0;
    while let (Some(x), Some(y)) = (a[at..].first_chunk::<8>(), b[at..].first_chunk::<8>()) {
        let differ = u64::from_le_bytes(*x) ^ u64::from_le_bytes(*y);
        if differ != 0 {
            // Little-endian: the lowest set bit lies in the first octet that differs.
            return Some(at + (differ.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    (at..common).find(|&i| a[i] != b[i])
}

/// The bytes of a name's text, read from its store key: each length octet after the
/// first reads as a dot, and so does the root's.
struct TextBytes<'a> {
    key: &'a [u8],
    at: usize,
    /// The next length octet (none for a name without a wire form).
    next_length: usize,
}

impl<'a> TextBytes<'a> {
    fn of(key: &'a [u8]) -> TextBytes<'a> {
        match key.first() {
            Some(&NO_WIRE_FORM) | None => TextBytes {
                key,
                at: 1,
                next_length: usize::MAX,
            },
            Some(&first) => TextBytes {
                key,
                at: 1,
                next_length: 1 + usize::from(first),
            },
        }
    }
}

impl Iterator for TextBytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let &byte = self.key.get(self.at)?;
        if self.at == self.next_length {
            self.next_length = self.at + 1 + usize::from(byte);
            self.at += 1;
            return Some(b'.');
        }
        self.at += 1;
        Some(byte)
    }
}

/// The store keys of one item's names with their hashes, made where the item's records
/// are (a helper thread at a first load or a transfer), so that the thread filling the
/// store only looks them up.
#[derive(Debug, Default)]
pub struct NameKeys {
    bytes: Vec<u8>,
    /// Per name of the item: where its key lies in `bytes`, and its hash; `None` for a
    /// name with no key (past 64 KiB).
    names: Vec<Option<(u32, u32, u64)>>,
}

impl NameKeys {
    /// The keys of `item`'s names.
    pub fn of(item: &ItemRecords) -> NameKeys {
        let mut keys = NameKeys::default();
        keys.fill(item);
        keys
    }

    /// Makes the keys of `item`'s names in place of the ones held (reusing the room).
    pub fn fill(&mut self, item: &ItemRecords) {
        self.bytes.clear();
        self.names.clear();
        for name in &item.names {
            let start = self.bytes.len();
            let key = store_key(name, &mut self.bytes).map(|()| {
                let hash = super::key_hash(&self.bytes[start..]);
                // An item's keys are far below 4 GiB: the offsets fit.
                (start as u32, self.bytes.len() as u32, hash)
            });
            self.names.push(key);
        }
    }

    /// The key of the item's `i`-th name and its hash.
    pub fn get(&self, i: usize) -> Option<(&[u8], u64)> {
        let (start, end, hash) = (*self.names.get(i)?)?;
        Some((&self.bytes[start as usize..end as usize], hash))
    }

    /// How many names the keys are for.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_their_text_and_read_back_as_it() {
        let names = [
            "a.",
            "a.b.",
            "a0.",
            "a-b.c.",
            "ab.",
            "ab.c.",
            "b.",
            "zz.a.",
            "a.b.c.",
            "a.bc.",
            "task1.app.mesos.",
            "task10.app.mesos.",
            "task1-0.app.mesos.",
            "task1.ap.mesos.",
            "task1.app.mesos.x.",
            "task.app.mesos.",
            "t.",
            "t-.",
            "t/.",
            "abc.d.",
            "ab.c.d.",
            // Long shared prefixes, differing at each place of an eight-octet step.
            "service-prod-team-task-1.app.mesos.",
            "service-prod-team-task-10.app.mesos.",
            "service-prod-team-task-1-0.app.mesos.",
            "service-prod-team-task-1.apq.mesos.",
            "service-prod-team-task-1.app.mesos.x.",
            "service-prod-team-task.app.mesos.",
            "service-prod-team-tasj-1.app.mesos.",
            "service-prod-teal-task-1.app.mesos.",
            "service-prod-team-task-1.app.mesoz.",
        ];
        let long = format!("{}.mesos.", "x".repeat(64));
        let mut keys: Vec<(String, Vec<u8>)> = names
            .iter()
            .map(|n| n.to_string())
            .chain([long.clone(), "EMPTY..label.".into()])
            .map(|n| {
                let mut key = Vec::new();
                store_key(&n, &mut key).unwrap(); // ok: test
                (n.to_ascii_lowercase(), key)
            })
            .collect();
        for (text, key) in &keys {
            assert_eq!(&key_text(key), text);
            assert_eq!(is_wire(key), text != &long && !text.contains(".."));
        }
        for (x, kx) in &keys {
            for (y, ky) in &keys {
                assert_eq!(text_order(kx, ky), x.cmp(y), "{x} against {y}");
            }
        }
        keys.clear();
    }

    #[test]
    fn an_items_keys_are_its_names_store_keys_with_their_hashes() {
        let mut item = ItemRecords::default();
        let huge = "x".repeat(70_000);
        for name in ["Web.Marathon.Mesos.", &huge, "a..b.", "mesos."] {
            item.names.push(name.into());
        }
        let mut keys = NameKeys::of(&item);
        assert_eq!(keys.len(), 4);
        for (i, name) in item.names.iter().enumerate() {
            let mut key = Vec::new();
            match store_key(name, &mut key) {
                Some(()) => {
                    assert_eq!(keys.get(i), Some((&key[..], super::super::key_hash(&key))))
                }
                None => assert_eq!(keys.get(i), None, "{name:.20}"),
            }
        }
        assert_eq!(key_text(keys.get(0).unwrap().0), "web.marathon.mesos."); // ok: test
        // Filled again for another item, nothing of the first is left.
        item.names = vec!["b.".into()];
        keys.fill(&item);
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.get(0).map(|(k, _)| k), Some(&b"\x01b\x00"[..]));
    }
}
