//! [`RrSet`]: the wire records of one type at one name, and the [`SetPool`] that stores
//! each distinct set once for every shard and every snapshot version (the same SRV set
//! stands under `_tcp` and `_udp`, the same agent address under every task of an agent).

mod srv_targets;

use super::QUESTION_POINTER;
use crate::dns::wire::{CLASS_IN, TYPE_A, TYPE_AAAA, TYPE_SRV};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use smallvec::SmallVec;
use srv_targets::PackedSrv;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;
use std::ops::Deref;
use std::sync::Mutex;
use triomphe::ThinArc;

/// A record's RDATA: where its set keeps it, or made whole from a packed SRV set's
/// pieces, in place for all but the longest targets (the control thread reads a
/// changed name's records: an allocation each cost a primary some 10 µs an event).
#[derive(Clone, Debug)]
pub enum Rdata<'a> {
    /// As the set keeps it.
    Kept(&'a [u8]),
    /// Made whole.
    Made(SmallVec<[u8; 80]>),
}

impl Deref for Rdata<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Rdata::Kept(bytes) => bytes,
            Rdata::Made(bytes) => bytes,
        }
    }
}

impl PartialEq for Rdata<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

/// An address record for the additional section: the owner is the target name inside
/// answer record `answer_rr` of the set (a compression pointer is made when answering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extra {
    /// Which answer record names the target.
    pub answer_rr: u32,
    /// The target's address.
    pub ip: IpAddr,
}

/// Records of one type at one name, immutable and shared, cloned by a count. Each
/// record is kept as its RDATA alone: the owner (a pointer to the question), the type,
/// the class and the TTL are the same for every record of a set, and are written when
/// the set is answered (12 of an A record's 16 octets, 12 of an SRV record's ~65: 7 MB
/// at 100k tasks).
///
/// One allocation (a `triomphe::ThinArc`, a thin pointer, so a slot's `Option<RrSet>` is
/// 8 bytes): the count, the header below, then the data in 4-octet words: each record's
/// RDATA start as a little-endian u32 and the length of the RDATA (not in an A or AAAA
/// set, whose records have one length), the RDATA (an SRV set's packed when that is
/// smaller: each target once, `srv_targets`), then the
/// additional addresses, each as the answer record naming it and its family in one
/// number of one to five octets (`write_extra`) and the address, then up to 3 octets of
/// padding. A query reads the header,
/// the starts and the RDATA from one allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrSet(ThinArc<SetHeader, [u8; 4]>);

/// What a set knows besides its data (16 bytes: with the count and the length the
/// shared pointer keeps before it, a set starts 32 bytes before its data).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetHeader {
    /// How many records.
    count: u32,
    /// The records' TTL.
    ttl: u32,
    /// The TTL of the extras (their names' zone's).
    extra_ttl: u32,
    /// The records' type.
    rtype: u16,
    /// How the records are kept: the length of every record's RDATA when the set keeps
    /// no starts (an A or AAAA set: 4 or 16), [`PACKED_SRV`], or 0 (starts and RDATA).
    form: u16,
}

/// [`SetHeader::form`] of an SRV set whose targets are kept once (`srv_targets`).
const PACKED_SRV: u16 = 1;

/// The octets every record has before its RDATA: owner pointer, type, class, TTL and
/// RDLENGTH.
pub const RR_HEADER: usize = 12;

/// Type, class (IN), TTL and RDLENGTH: what follows a record's owner.
fn record_fields(rtype: u16, ttl: u32, rdlen: usize) -> [u8; RR_HEADER - 2] {
    let mut out = [0; RR_HEADER - 2];
    out[0..2].copy_from_slice(&rtype.to_be_bytes());
    out[2..4].copy_from_slice(&CLASS_IN.to_be_bytes());
    out[4..8].copy_from_slice(&ttl.to_be_bytes());
    out[8..10].copy_from_slice(&(rdlen as u16).to_be_bytes());
    out
}

/// One record in wire form, its owner a pointer to the question.
pub fn wire_record(rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    [
        &QUESTION_POINTER[..],
        &record_fields(rtype, ttl, rdata.len()),
        rdata,
    ]
    .concat()
}

/// The RDATA length of every record of `rtype` when it has one (A, AAAA), else 0: a set
/// of such records keeps no starts (4 bytes a record, 1.1 MB at 100k tasks).
fn fixed_rdata_len(rtype: u16) -> u16 {
    match rtype {
        TYPE_A => 4,
        TYPE_AAAA => 16,
        _ => 0,
    }
}

/// The RDATA starts of a set's records, then the length of its RDATA (`count + 1`
/// entries): kept in the set, or every record of one length.
#[derive(Clone, Copy)]
struct Offsets<'a> {
    kept: &'a [[u8; 4]],
    fixed: usize,
}

impl Offsets<'_> {
    /// Entry `i`.
    #[inline]
    fn at(&self, i: usize) -> usize {
        if self.fixed != 0 {
            i * self.fixed
        } else {
            u32::from_le_bytes(self.kept[i]) as usize
        }
    }
}

/// The RDATA length of every record of a set of `form`, or 0 when the set keeps starts.
fn fixed_len(form: u16) -> usize {
    match form {
        0 | PACKED_SRV => 0,
        fixed => usize::from(fixed),
    }
}

impl RrSet {
    fn header(&self) -> &SetHeader {
        &self.0.header.header
    }

    /// The data words' octets.
    #[inline]
    fn data(&self) -> &[u8] {
        self.0.slice.as_flattened()
    }

    /// The length of every record's RDATA, one after another: the starts' last entry.
    #[inline]
    fn rdata_len(&self) -> usize {
        self.offsets().at(self.count())
    }

    /// Octets of the starts kept.
    #[inline]
    fn offsets_len(&self) -> usize {
        match fixed_len(self.header().form) {
            0 => 4 * (self.count() + 1),
            _ => 0,
        }
    }

    /// The records of a packed SRV set, and the octets they take after the starts.
    #[inline]
    fn packed(&self) -> Option<(PackedSrv<'_>, usize)> {
        (self.header().form == PACKED_SRV).then(|| self.packed_records())
    }

    /// [`RrSet::packed`] of a set known to be packed.
    #[inline]
    fn packed_records(&self) -> (PackedSrv<'_>, usize) {
        PackedSrv::read(&self.data()[self.offsets_len()..], self.count())
    }

    /// Octets the records take after the starts, as kept.
    fn stored_rdata_len(&self) -> usize {
        match self.packed() {
            Some((_, len)) => len,
            None => self.rdata_len(),
        }
    }

    /// How many records.
    #[inline]
    pub fn count(&self) -> usize {
        self.header().count as usize
    }

    /// The records' type.
    pub fn rtype(&self) -> u16 {
        self.header().rtype
    }

    /// The records' TTL.
    pub fn ttl(&self) -> u32 {
        self.header().ttl
    }

    /// Every record's RDATA, one after another, when the set keeps them so (not a
    /// packed SRV set).
    #[inline]
    fn rdata_bytes(&self) -> &[u8] {
        let start = self.offsets_len();
        match self.header().form {
            PACKED_SRV => &[],
            _ => &self.data()[start..start + self.rdata_len()],
        }
    }

    /// RDATA starts, then the RDATA's length (`count + 1` entries).
    #[inline]
    fn offsets(&self) -> Offsets<'_> {
        let fixed = fixed_len(self.header().form);
        let kept = if fixed == 0 {
            &self.0.slice[..self.count() + 1]
        } else {
            &[]
        };
        Offsets { kept, fixed }
    }

    /// Record `i`'s RDATA (made whole for a packed SRV set).
    pub fn rdata(&self, i: usize) -> Rdata<'_> {
        match self.packed() {
            Some((packed, _)) => Rdata::Made(packed.rdata(i)),
            None => {
                let offsets = self.offsets();
                Rdata::Kept(&self.rdata_bytes()[offsets.at(i)..offsets.at(i + 1)])
            }
        }
    }

    /// Each record's RDATA, in order.
    pub fn rdatas(&self) -> impl Iterator<Item = Rdata<'_>> {
        (0..self.count()).map(|i| self.rdata(i))
    }

    /// The addresses of an A or AAAA set, in order (none of another set, nor a record
    /// of another length).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let rtype = self.rtype();
        self.rdatas().filter_map(move |rdata| match rtype {
            TYPE_A => <[u8; 4]>::try_from(&*rdata).ok().map(IpAddr::from),
            TYPE_AAAA => <[u8; 16]>::try_from(&*rdata).ok().map(IpAddr::from),
            _ => None,
        })
    }

    /// Whether this is the very set `other` is (the pool keeps each distinct set once,
    /// so two sets of one pool are equal exactly when they are the same).
    pub fn is(&self, other: &RrSet) -> bool {
        std::ptr::eq(self.data(), other.data())
    }

    /// Type, class, TTL and RDLENGTH of a record of `rdlen` octets of RDATA: what
    /// follows the owner.
    pub fn fields(&self, rdlen: usize) -> [u8; RR_HEADER - 2] {
        record_fields(self.rtype(), self.ttl(), rdlen)
    }

    /// Record `i` as a query answer holds it: owner pointer to the question, then the
    /// rest. For the few readers outside the query path.
    pub fn wire_record(&self, i: usize) -> Vec<u8> {
        wire_record(self.rtype(), self.ttl(), &self.rdata(i))
    }

    /// Octets of `m` records from record `k` on (wrapping) in wire form.
    #[inline]
    pub fn wire_span(&self, k: usize, m: usize) -> usize {
        let offsets = self.offsets();
        let n = self.count();
        let rdata = if k + m <= n {
            offsets.at(k + m) - offsets.at(k)
        } else {
            offsets.at(n) - offsets.at(k) + offsets.at(k + m - n)
        };
        rdata + RR_HEADER * m
    }

    /// Writes `m` records from record `k` on (wrapping) in wire form, owners pointing at
    /// the question, into `out` (exactly [`RrSet::wire_span`] octets).
    #[inline]
    pub fn write_wire(&self, k: usize, m: usize, out: &mut [u8]) {
        let n = self.count();
        // The rotation: records k.., then from the first.
        let first = m.min(n - k);
        let runs = [(k, first), (0, m - first)];
        let mut head = [0u8; RR_HEADER];
        head[..2].copy_from_slice(&QUESTION_POINTER);
        head[2..RR_HEADER].copy_from_slice(&self.fields(0));
        let rdata = self.rdata_bytes();
        match self.header().form {
            4 => write_fixed::<4>(head, rdata, runs, out),
            16 => write_fixed::<16>(head, rdata, runs, out),
            PACKED_SRV => write_packed(head, self.packed_records().0, runs, out),
            _ => {
                let offsets = self.offsets();
                let mut at = 0;
                for (start, len) in runs {
                    for i in start..start + len {
                        let data = &rdata[offsets.at(i)..offsets.at(i + 1)];
                        head[10..12].copy_from_slice(&(data.len() as u16).to_be_bytes());
                        out[at..at + RR_HEADER].copy_from_slice(&head);
                        at += RR_HEADER;
                        out[at..at + data.len()].copy_from_slice(data);
                        at += data.len();
                    }
                }
            }
        }
    }

    /// Additional addresses (SRV sets), in order.
    pub fn extras(&self) -> impl Iterator<Item = Extra> + '_ {
        let mut rest = self.extra_octets();
        std::iter::from_fn(move || {
            let (extra, tail) = read_extra(rest)?;
            rest = tail;
            Some(extra)
        })
    }

    /// The octets of the additional addresses, then the padding.
    fn extra_octets(&self) -> &[u8] {
        &self.data()[self.offsets_len() + self.stored_rdata_len()..]
    }

    /// Where, in each record's RDATA, the name that extras refer to starts: an SRV
    /// record's target (after the priority, weight and port), an NS record's host.
    pub fn target_offset(&self) -> usize {
        if self.rtype() == TYPE_SRV { 6 } else { 0 }
    }

    /// The TTL of the additional addresses.
    pub fn extra_ttl(&self) -> u32 {
        self.header().extra_ttl
    }

    /// Bytes held, allocations included (approximately: the count, the length and the
    /// header before the data).
    pub fn bytes_held(&self) -> usize {
        16 + std::mem::size_of::<SetHeader>() + 4 * self.0.slice.len()
    }

    /// Bytes of the additional addresses.
    fn extras_len(&self) -> usize {
        let all = self.extra_octets();
        let mut rest = all;
        while let Some((_, tail)) = read_extra(rest) {
            rest = tail;
        }
        all.len() - rest.len()
    }

    /// How many holders the set has (the pool counts as one).
    fn holders(&self) -> usize {
        ThinArc::strong_count(&self.0)
    }

    /// The set written in `scratch` (at least one record).
    #[cfg(test)]
    fn new(scratch: &SetScratch) -> RrSet {
        let mut data = Vec::new();
        let header = scratch.encode(&mut data);
        RrSet::from_encoded(header, &data)
    }

    /// The set of `header` and `data` (from [`SetScratch::encode`]).
    fn from_encoded(header: SetHeader, data: &[u8]) -> RrSet {
        let words = data.chunks_exact(4).map(|w| [w[0], w[1], w[2], w[3]]);
        RrSet(ThinArc::from_header_and_iter(header, words))
    }
}

/// Writes the records of `runs` (first record, how many) of a packed SRV set, each
/// after `head`, its fields, its own labels and the shared suffix.
#[inline]
fn write_packed(
    mut head: [u8; RR_HEADER],
    packed: PackedSrv<'_>,
    runs: [(usize, usize); 2],
    out: &mut [u8],
) {
    let suffix = packed.suffix();
    let mut at = 0;
    for (start, len) in runs {
        for i in start..start + len {
            let (fields, own) = packed.record(i);
            let rdlen = fields.len() + own.len() + suffix.len();
            head[10..12].copy_from_slice(&(rdlen as u16).to_be_bytes());
            let record = &mut out[at..at + RR_HEADER + rdlen];
            let (record_head, rest) = record.split_at_mut(RR_HEADER);
            record_head.copy_from_slice(&head);
            let (record_fields, rest) = rest.split_at_mut(fields.len());
            record_fields.copy_from_slice(fields);
            let (record_own, record_suffix) = rest.split_at_mut(own.len());
            copy_short(record_own, own);
            copy_short(record_suffix, suffix);
            at += RR_HEADER + rdlen;
        }
    }
}

/// `dst.copy_from_slice(src)` for the short pieces of a name, without a call: a target's
/// own labels and the suffix are mostly 8 to 32 octets, which two copies of a length
/// the compiler knows cover (overlapping in the middle); a `memcpy` call each took an
/// SRV answer from 1,618 to 1,898 instructions.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    match n {
        16..=32 => {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..n].copy_from_slice(&src[n - 16..]);
        }
        8..=15 => {
            dst[..8].copy_from_slice(&src[..8]);
            dst[n - 8..n].copy_from_slice(&src[n - 8..]);
        }
        4..=7 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..n].copy_from_slice(&src[n - 4..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

impl SetScratch {
    /// The set's header, and its data as a set keeps it appended to `data` (padded to
    /// 4-octet words): equal sets encode alike, so the pool finds a set by these.
    fn encode(&self, data: &mut Vec<u8>) -> SetHeader {
        // Starts are left out only when every record has its type's one length.
        let fixed = fixed_rdata_len(self.rtype);
        let fixed = match self.bytes.len() == usize::from(fixed) * self.offsets.len()
            && self
                .offsets
                .iter()
                .enumerate()
                .all(|(i, &start)| start as usize == i * usize::from(fixed))
        {
            true => fixed,
            false => 0,
        };
        let mut header = SetHeader {
            count: self.offsets.len() as u32,
            ttl: self.ttl,
            extra_ttl: self.extra_ttl,
            rtype: self.rtype,
            form: fixed,
        };
        data.reserve(4 * (self.offsets.len() + 1) + self.bytes.len() + 21 * self.extras.len());
        if fixed == 0 {
            let ends = self
                .offsets
                .iter()
                .copied()
                .chain(std::iter::once(self.bytes.len() as u32));
            for start in ends {
                data.extend_from_slice(&start.to_le_bytes());
            }
        }
        let packed = self.rtype == TYPE_SRV && srv_targets::pack(self.records(), data);
        if packed {
            header.form = PACKED_SRV;
        } else {
            data.extend_from_slice(&self.bytes);
        }
        for extra in &self.extras {
            write_extra(extra, data);
        }
        // Held as 4-octet words, so that the starts are read without arithmetic.
        data.resize(data.len().next_multiple_of(4), 0);
        header
    }

    /// Each record's RDATA.
    fn records(&self) -> impl Iterator<Item = &[u8]> + Clone {
        let ends = self.offsets.iter().skip(1).copied();
        let ends = ends.chain(std::iter::once(self.bytes.len() as u32));
        self.offsets
            .iter()
            .zip(ends)
            .map(|(&start, end)| &self.bytes[start as usize..end as usize])
    }
}

/// Writes an additional address as a set keeps it: the answer record naming it and
/// whether it is IPv6, as one number of 7-bit groups, lowest first, each but the last
/// with its top bit set (one octet for the first 64 records), then the address. A
/// record index and a length octet of their own took 5 octets an address, most of the
/// additional section's 2.9 MB at 100k tasks.
fn write_extra(extra: &Extra, data: &mut Vec<u8>) {
    let mut tag = u64::from(extra.answer_rr) << 1 | u64::from(extra.ip.is_ipv6());
    while tag >= 0x80 {
        data.push(tag as u8 | 0x80);
        tag >>= 7;
    }
    data.push(tag as u8);
    match extra.ip {
        IpAddr::V4(v4) => data.extend_from_slice(&v4.octets()),
        IpAddr::V6(v6) => data.extend_from_slice(&v6.octets()),
    }
}

/// The additional address at the start of `octets` ([`write_extra`]'s form) and what
/// follows it; `None` where no whole address is left (the padding after the last, under
/// 4 octets, reads as none).
#[inline]
fn read_extra(octets: &[u8]) -> Option<(Extra, &[u8])> {
    let mut tag = 0u64;
    let mut rest = octets;
    for shift in (0..35).step_by(7) {
        let (&byte, tail) = rest.split_first()?;
        rest = tail;
        tag |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            let answer_rr = u32::try_from(tag >> 1).ok()?;
            let (ip, rest) = if tag & 1 == 0 {
                let (v4, rest) = rest.split_first_chunk::<4>()?;
                (IpAddr::from(*v4), rest)
            } else {
                let (v6, rest) = rest.split_first_chunk::<16>()?;
                (IpAddr::from(*v6), rest)
            };
            return Some((Extra { answer_rr, ip }, rest));
        }
    }
    None
}

/// Writes the records of `runs` (first record, how many) of a set whose every RDATA is
/// `N` octets, each after `head`: copies of a length the compiler knows, a few moves
/// each (a copy of a length read at run time is a call to `memcpy`: an A answer took
/// 27% more instructions that way).
#[inline]
fn write_fixed<const N: usize>(
    mut head: [u8; RR_HEADER],
    rdata: &[u8],
    runs: [(usize, usize); 2],
    out: &mut [u8],
) {
    head[10..12].copy_from_slice(&(N as u16).to_be_bytes());
    let mut records = out.chunks_exact_mut(RR_HEADER + N);
    for (start, len) in runs {
        // The data first: a zip takes from its first side before it finds the second
        // empty, and a record taken there would be skipped.
        let data = rdata[start * N..(start + len) * N].chunks_exact(N);
        for (data, record) in data.zip(records.by_ref()) {
            let (record_head, record_data) = record.split_at_mut(RR_HEADER);
            record_head.copy_from_slice(&head);
            record_data.copy_from_slice(data);
        }
    }
}

/// A set being written.
#[derive(Default)]
pub struct SetScratch {
    /// The records' type.
    pub rtype: u16,
    /// The records' TTL.
    pub ttl: u32,
    /// Each record's RDATA, one after another.
    pub bytes: Vec<u8>,
    /// Where each record's RDATA starts.
    pub offsets: Vec<u32>,
    /// Additional addresses.
    pub extras: Vec<Extra>,
    /// The TTL of the additional addresses.
    pub extra_ttl: u32,
    /// The set as encoded for the pool (room kept from set to set).
    encoded: Vec<u8>,
}

impl SetScratch {
    /// Empties it for the next set.
    pub fn clear(&mut self) {
        self.rtype = 0;
        self.ttl = 0;
        self.bytes.clear();
        self.offsets.clear();
        self.extras.clear();
        self.extra_ttl = 0;
    }

    /// Empties it for a set of type `rtype` with TTL `ttl`.
    pub fn start(&mut self, rtype: u16, ttl: u32) {
        self.clear();
        (self.rtype, self.ttl) = (rtype, ttl);
    }

    /// Marks the start of the next record's RDATA.
    pub fn next_record(&mut self) {
        self.offsets.push(self.bytes.len() as u32);
    }

    /// Adds a record of RDATA `rdata`.
    pub fn push(&mut self, rdata: &[u8]) {
        self.next_record();
        self.bytes.extend_from_slice(rdata);
    }
}

/// What a set is found by in the pool: its header and its data as kept.
fn set_hash(hasher: &FixedState, header: &SetHeader, data: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    header.hash(&mut h);
    data.hash(&mut h);
    h.finish()
}

/// The pool's tables: each set falls in one by its hash, so that threads compiling shards
/// side by side (a first load) lock one table at a time rather than the whole pool.
const PARTS: usize = 16;

/// The table of a set's hash: bits the tables themselves use least (their buckets take
/// the low bits, their tags the top seven).
fn part_of(hash: u64) -> usize {
    (hash >> 32) as usize & (PARTS - 1)
}

/// Every distinct set in use, each stored once. Interning takes `&self`: the threads of
/// a whole compile share the pool, each locking one of its tables at a time (a lock no
/// other thread holds costs a few nanoseconds against the hashing and the comparison).
pub struct SetPool {
    parts: Vec<Mutex<HashTable<RrSet>>>,
    hasher: FixedState,
    /// Sets held after the last sweep: the next sweep waits until the pool doubles.
    after_sweep: usize,
}

impl Default for SetPool {
    fn default() -> Self {
        SetPool {
            parts: (0..PARTS).map(|_| Mutex::new(HashTable::new())).collect(),
            hasher: FixedState::default(),
            after_sweep: 0,
        }
    }
}

/// A table of the pool, locked. A thread that panicked holding the lock left the table
/// whole (an insert either happened or did not): it is used as it is.
fn lock(part: &Mutex<HashTable<RrSet>>) -> std::sync::MutexGuard<'_, HashTable<RrSet>> {
    part.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl SetPool {
    /// The shared set equal to `scratch`, stored now if new; `None` for an empty set.
    pub fn intern(&self, scratch: &mut SetScratch) -> Option<RrSet> {
        if scratch.offsets.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut scratch.encoded);
        data.clear();
        let header = scratch.encode(&mut data);
        let hash = set_hash(&self.hasher, &header, &data);
        let mut table = lock(&self.parts[part_of(hash)]);
        let set = match table.find(hash, |s| *s.header() == header && s.data() == data) {
            Some(set) => set.clone(),
            None => {
                let set = RrSet::from_encoded(header, &data);
                table.insert_unique(hash, set.clone(), |s| {
                    set_hash(&self.hasher, s.header(), s.data())
                });
                set
            }
        };
        scratch.encoded = data;
        Some(set)
    }

    /// Drops the sets no snapshot uses any more, once the pool has doubled since the
    /// last sweep (so a sweep's cost is spread over as many new sets).
    pub fn sweep_if_grown(&mut self) {
        if self.len() > (2 * self.after_sweep).max(4096) {
            self.sweep();
        }
    }

    /// Drops the sets no snapshot uses any more.
    pub fn sweep(&mut self) {
        for part in &mut self.parts {
            let part = part
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            part.retain(|s| s.holders() > 1);
        }
        self.after_sweep = self.len();
    }

    /// How many distinct sets the pool holds.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|p| lock(p).len()).sum()
    }

    /// Whether the pool holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `f` of every set, folded.
    fn fold<T>(&self, init: T, mut f: impl FnMut(T, &RrSet) -> T) -> T {
        self.parts
            .iter()
            .fold(init, |acc, part| lock(part).iter().fold(acc, &mut f))
    }

    /// Bytes held by the sets (approximately).
    pub fn bytes_held(&self) -> usize {
        let tables: usize = self.parts.iter().map(|p| lock(p).capacity()).sum();
        self.fold(0, |sum, s| sum + s.bytes_held()) + tables * 9
    }

    /// Of those, the bytes of SRV sets' additional addresses, and of the records' wire
    /// form.
    pub fn parts_held(&self) -> (usize, usize) {
        self.fold((0, 0), |(extras, wire), s| {
            (extras + s.extras_len(), wire + s.stored_rdata_len())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::srv_targets::tests::srv;
    use super::*;

    /// Every record's RDATA.
    fn all_rdata(set: &RrSet) -> Vec<Vec<u8>> {
        set.rdatas().map(|r| r.to_vec()).collect()
    }

    /// Whether `set` is the set `scratch` describes.
    fn matches(scratch: &SetScratch, set: &RrSet) -> bool {
        let mut data = Vec::new();
        let header = scratch.encode(&mut data);
        *set.header() == header && set.data() == data
    }

    /// A scratch SRV set of `records` (fake RDATA), with `extras`.
    fn scratch(records: &[&[u8]], extras: &[Extra]) -> SetScratch {
        let mut s = SetScratch::default();
        s.start(TYPE_SRV, 60);
        for r in records {
            s.push(r);
        }
        s.extras.extend_from_slice(extras);
        s.extra_ttl = 77;
        s
    }

    #[test]
    fn additional_addresses_of_every_record_number_read_back() {
        // Record numbers at each edge of the octets their number takes (the family
        // is the number's lowest bit), both families, after records of each padding.
        let numbers = [0, 1, 63, 64, 8_191, 8_192, 1 << 20, u32::MAX >> 1, u32::MAX];
        for (i, &answer_rr) in numbers.iter().enumerate() {
            let v6 = i % 2 == 1;
            let ip: IpAddr = if v6 {
                "fd00::1:2".parse().unwrap() // ok: test
            } else {
                "10.1.2.3".parse().unwrap() // ok: test
            };
            let extras = [Extra { answer_rr, ip }, Extra { answer_rr: 5, ip }];
            for len in 1..=4 {
                let record = vec![7u8; len];
                let set = RrSet::new(&scratch(&[&record], &extras));
                assert_eq!(
                    set.extras().collect::<Vec<_>>(),
                    extras,
                    "{answer_rr}, {len}"
                );
                let address = if v6 { 16 } else { 4 };
                let number = (64 - (u64::from(answer_rr) << 1 | 1).leading_zeros()).div_ceil(7);
                assert_eq!(set.extras_len(), number as usize + 1 + 2 * address);
            }
        }
    }

    #[test]
    fn a_set_reads_back_what_was_written() {
        let extras = [
            Extra {
                answer_rr: 1,
                ip: "10.0.0.1".parse().unwrap(), // ok: test
            },
            Extra {
                answer_rr: 70_000,
                ip: "fd00::7".parse().unwrap(), // ok: test
            },
        ];
        let written = scratch(&[b"abcd", b"", b"efgh"], &extras);
        let set = RrSet::new(&written);
        assert_eq!(set.count(), 3);
        assert_eq!(set.rdata_bytes(), b"abcdefgh");
        let offsets = set.offsets();
        assert_eq!(
            (0..=set.count()).map(|i| offsets.at(i)).collect::<Vec<_>>(),
            [0, 4, 4, 8]
        );
        assert_eq!(all_rdata(&set), [&b"abcd"[..], b"", b"efgh"]);
        assert_eq!(*set.rdata(2), *b"efgh");
        assert_eq!(set.extras().collect::<Vec<_>>(), extras);
        // Record 1's IPv4 address: 1 + 4 octets; record 70,000's IPv6 address: 3 + 16.
        assert_eq!(set.extras_len(), 1 + 4 + 3 + 16);
        assert_eq!(
            (set.rtype(), set.ttl(), set.extra_ttl()),
            (TYPE_SRV, 60, 77)
        );
        assert_eq!(set.target_offset(), 6);
        assert!(matches(&written, &set));
        // Another type's extras name the host at the start of the RDATA (NS).
        let mut ns = scratch(&[b"\0"], &extras);
        ns.rtype = crate::dns::wire::TYPE_NS;
        assert_eq!(RrSet::new(&ns).target_offset(), 0);
        assert!(!matches(&ns, &set));

        // In wire form, rotated: records 2, 0 (owner pointer, type, class, TTL, length).
        let head = |len: u8| [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, len];
        let mut want = head(4).to_vec();
        want.extend_from_slice(b"efgh");
        want.extend_from_slice(&head(4));
        want.extend_from_slice(b"abcd");
        assert_eq!(set.wire_span(2, 2), want.len());
        let mut out = vec![0; want.len()];
        set.write_wire(2, 2, &mut out);
        assert_eq!(out, want);
        assert_eq!(set.wire_record(2), want[..16]);
        assert_eq!(set.wire_span(0, 3), 3 * 12 + 8);
    }

    #[test]
    fn address_sets_keep_no_starts_unless_a_record_has_another_length() {
        let mut a = SetScratch::default();
        a.start(TYPE_A, 60);
        a.push(&[10, 0, 0, 1]);
        a.push(&[10, 0, 0, 2]);
        let set = RrSet::new(&a);
        // The header's 16 bytes and the RDATA, no starts.
        assert_eq!(set.bytes_held(), 16 + 16 + 8);
        assert_eq!(all_rdata(&set), [&[10, 0, 0, 1][..], &[10, 0, 0, 2]]);
        assert_eq!(set.wire_span(1, 2), 2 * 16);
        let mut out = vec![0; 32];
        set.write_wire(1, 2, &mut out);
        assert_eq!(
            (&out[12..16], &out[28..32]),
            (&[10, 0, 0, 2][..], &[10, 0, 0, 1][..])
        );
        assert!(matches(&a, &set));
        // A record of another length (never made here) keeps the starts.
        a.push(&[1, 2]);
        let odd = RrSet::new(&a);
        assert_eq!(odd.rdatas().map(|r| r.len()).collect::<Vec<_>>(), [4, 4, 2]);
        assert_eq!(odd.wire_span(0, 3), 3 * 12 + 10);
        assert!(matches(&a, &odd) && !matches(&a, &set));
    }

    #[test]
    fn an_srv_set_keeps_each_target_once_and_answers_whole_records() {
        let records = [
            srv(31000, b"\x05web-1\x08marathon\x05mesos\0"),
            srv(31001, b"\x05web-1\x08marathon\x05mesos\0"),
            srv(31002, b"\x05web-2\x08marathon\x05mesos\0"),
            srv(31003, b"\x06web-10\x08marathon\x05mesos\0"),
        ];
        // Targets whose own labels take every length `copy_short` tells apart.
        let mut odd_lengths: Vec<Vec<u8>> = [0, 2, 3, 5, 9, 15, 16, 20, 33, 63]
            .iter()
            .map(|&len| {
                let own = match len {
                    0 => Vec::new(),
                    len => [&[len as u8 - 1][..], &vec![b'x'; len - 1]].concat(),
                };
                srv(len as u16, &[&own[..], b"\x08marathon\x05mesos\0"].concat())
            })
            .collect();
        odd_lengths.extend(odd_lengths.clone());
        let odd_slices: Vec<&[u8]> = odd_lengths.iter().map(Vec::as_slice).collect();
        let odd = RrSet::new(&scratch(&odd_slices, &[]));
        assert_eq!(odd.header().form, PACKED_SRV);
        let n = odd_lengths.len();
        let mut out = vec![0; odd.wire_span(3, n)];
        odd.write_wire(3, n, &mut out);
        let want: Vec<u8> = (3..n + 3).flat_map(|i| odd.wire_record(i % n)).collect();
        assert_eq!(out, want);
        assert_eq!(all_rdata(&odd), odd_lengths);
        let extras = [
            Extra {
                answer_rr: 0,
                ip: "10.0.0.1".parse().unwrap(), // ok: test
            },
            Extra {
                answer_rr: 2,
                ip: "fd00::2".parse().unwrap(), // ok: test
            },
        ];
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut written = scratch(&slices, &extras);
        let set = RrSet::new(&written);
        assert_eq!(set.header().form, PACKED_SRV);
        // Kept in fewer octets than the records: the names' length, 4 records of 10,
        // the suffix and 3 targets (each after its length).
        let plain: usize = records.iter().map(Vec::len).sum();
        assert_eq!(set.stored_rdata_len(), 4 + 40 + 17 + 7 + 7 + 8);
        assert!(set.stored_rdata_len() < plain);
        assert_eq!(all_rdata(&set), records);
        assert_eq!(set.extras().collect::<Vec<_>>(), extras);
        assert!(matches(&written, &set));

        // Rotated from record 3, wrapping: whole records, each after its header.
        let mut want = Vec::new();
        for i in [3, 0, 1] {
            want.extend_from_slice(&set.wire_record(i));
            let rdata = &records[i];
            assert_eq!(set.wire_record(i)[RR_HEADER..], rdata[..]);
        }
        assert_eq!(set.wire_span(3, 3), want.len());
        let mut out = vec![0; want.len()];
        set.write_wire(3, 3, &mut out);
        assert_eq!(out, want);

        // Found again in the pool by its records, and told apart by a port.
        let pool = SetPool::default();
        let pooled = pool.intern(&mut written).unwrap(); // ok: test
        assert!(pool.intern(&mut written).unwrap().is(&pooled)); // ok: test
        let mut other = scratch(&slices[..3], &[]);
        other.push(&srv(9, b"\x06web-10\x08marathon\x05mesos\0"));
        assert!(!pool.intern(&mut other).unwrap().is(&pooled)); // ok: test
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn the_pool_keeps_each_set_once_and_tells_them_apart() {
        let mut pool = SetPool::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap(); // ok: test
        let plain = scratch(&[b"abcd"], &[]);
        let with_extra = scratch(
            &[b"abcd"],
            &[Extra {
                answer_rr: 0,
                ip: ip("10.0.0.1"),
            }],
        );
        let other_extra = scratch(
            &[b"abcd"],
            &[Extra {
                answer_rr: 0,
                ip: ip("10.0.0.2"),
            }],
        );
        // The same bytes split into other records are another set.
        let split = scratch(&[b"ab", b"cd"], &[]);
        // The same records with another TTL are another set.
        let mut other_ttl = scratch(&[b"abcd"], &[]);
        other_ttl.ttl = 5;
        let mut all = [plain, with_extra, other_extra, split, other_ttl];
        let sets: Vec<RrSet> = all
            .iter_mut()
            .map(|s| pool.intern(s).unwrap()) // ok: test
            .collect();
        assert_eq!(pool.len(), 5);
        for (s, set) in all.iter_mut().zip(&sets) {
            let again = pool.intern(s).unwrap(); // ok: test
            // The very set pooled, not an equal copy.
            assert!(again.is(set));
        }
        assert_eq!(pool.len(), 5);
        assert!(pool.intern(&mut SetScratch::default()).is_none());
        drop(sets);
        pool.sweep();
        assert!(pool.is_empty());
    }
}
