//! A JSON document read as a stream and cut at its task lists, so that the tasks are
//! decoded from memory on every core while the rest of the document is still arriving.
//!
//! Why by hand: serde_json reading a stream (`from_reader`) goes through the stream byte
//! by byte, about three times as slow as from memory (100k tasks, 127 MB: 0.55-0.65 s
//! only to skim the document, where decoding every task from memory takes 0.2 s on one
//! thread), and the whole document is not to be held. This module only finds where
//! strings, objects and arrays begin and end; serde_json still decodes and checks every
//! byte: each task from its own slice, on a worker, and the rest of the document (the
//! *skeleton*, each task list replaced by `[]`) once the stream ends.

use crate::cluster::{self, TaskSharing};
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use serde::de::{DeserializeOwned, Error as _};
use std::io::Read;

/// What becomes of an array, chosen by its path (see [`Path`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArrayRule {
    /// Stays in the skeleton.
    Keep,
    /// A task list: cut out, its tasks decoded on the workers.
    Split,
    /// Read past (its syntax still followed) and left out: a list nothing reads.
    Drop,
}

/// Where an array opens: the keys leading to it, `[]` for each array on the way, e.g.
/// `frameworks[].tasks`.
pub(crate) type Path<'a> = &'a str;

/// A task list cut out of the document, in the model's form.
#[derive(Debug)]
pub(crate) struct CutList {
    /// The element index in each array enclosing the list (e.g. its framework's).
    pub indexes: Vec<usize>,
    /// Its tasks, in document order.
    pub tasks: Vec<cluster::Task>,
}

/// A document cut at its task lists.
#[derive(Debug)]
pub(crate) struct Cut {
    /// The document with each cut list replaced by `[]`.
    pub skeleton: Vec<u8>,
    /// The lists, in document order.
    pub lists: Vec<CutList>,
}

/// Bytes read from the stream at a time.
const READ: usize = 256 * 1024;
/// Tasks handed to a worker at a time.
const BATCH: usize = 256;
/// Workers at most (a document's tasks keep about two busy; more wait on the reader).
const MAX_WORKERS: usize = 4;

/// Where a document's tasks go as they are decoded, in document order, a batch at a
/// time, rather than into its [`CutList`]s.
pub(crate) type TaskSink<'a> = &'a mut dyn FnMut(usize, Vec<cluster::Task>);

/// Reads `reader` to its end, cutting out the arrays `rule` names, and decodes each
/// cut task as `T`, converted by `convert` into the model's form (compacted, its strings
/// shared across the whole document). With a `sink`, the tasks go to it (list by list,
/// in order) and the lists come back empty.
pub(crate) fn cut_task_lists<T: DeserializeOwned>(
    reader: impl Read,
    rule: fn(Path) -> ArrayRule,
    convert: fn(T) -> cluster::Task,
    sink: Option<TaskSink<'_>>,
) -> Result<Cut, serde_json::Error> {
    std::thread::scope(|scope| {
        let start_workers = move |work: Work<T>| {
            let workers = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .clamp(1, MAX_WORKERS);
            // Each worker inherits this thread's priority (a background one when
            // following Mesos).
            let spawned = (0..workers)
                .filter(|_| {
                    let work = work.clone();
                    std::thread::Builder::new()
                        .name("task-decode".into())
                        .spawn_scoped(scope, move || work.run())
                        .is_ok()
                })
                .count();
            spawned > 0
        };
        let mut decoding = Decoding::new(convert, Box::new(start_workers), sink);
        let mut scanner = Scanner::new(rule);
        let mut reader = reader;
        // `buf[..valid]` is read and not yet consumed; the rest is room to read into.
        let mut buf: Vec<u8> = vec![0; READ];
        let mut valid = 0;
        loop {
            if buf.len() - valid < READ / 4 {
                buf.resize(valid + READ, 0);
            }
            let n = loop {
                match reader.read(&mut buf[valid..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(serde_json::Error::io(e)),
                }
            };
            let at_end = n == 0;
            let keep_from = scanner.scan(&buf[..valid + n], valid, at_end, &mut decoding)?;
            decoding.collect_ready()?;
            if at_end {
                break;
            }
            buf.copy_within(keep_from..valid + n, 0);
            valid = valid + n - keep_from;
            scanner.shift(keep_from);
        }
        let lists = decoding.finish()?;
        Ok(Cut {
            skeleton: scanner.skeleton,
            lists,
        })
    })
}

/// One object or array being read outside the cut lists.
enum Frame {
    /// An object: the key of the member being read, and whether a key comes next.
    Object { key: Vec<u8>, want_key: bool },
    /// An array: the index of the element being read.
    Array { index: usize },
}

/// An array being cut out or dropped.
struct Region {
    split: bool,
    /// Nesting inside the array's elements.
    depth: usize,
    /// Where the element being read starts (in the buffer).
    element_start: usize,
    /// Elements ended so far (to tell `[ ]` from `[,]`).
    elements: usize,
}

/// Follows the document's structure across buffers.
struct Scanner {
    rule: fn(Path) -> ArrayRule,
    frames: Vec<Frame>,
    region: Option<Region>,
    in_string: bool,
    /// The last byte read was a backslash in a string.
    escaped: bool,
    /// The string being read is the key of the top object.
    in_key: bool,
    /// Where the skeleton's next bytes start in the buffer, outside a region.
    skeleton_from: usize,
    skeleton: Vec<u8>,
    /// The batch of the list being cut.
    batch: Batch,
}

/// Tasks' text handed to a worker: `text[ends[i-1]..ends[i]]` is task i.
#[derive(Default)]
struct Batch {
    seq: usize,
    list: usize,
    text: Vec<u8>,
    ends: Vec<usize>,
}

fn malformed(what: &str) -> serde_json::Error {
    serde_json::Error::custom(format!("malformed JSON: {what}"))
}

impl Scanner {
    fn new(rule: fn(Path) -> ArrayRule) -> Scanner {
        Scanner {
            rule,
            frames: Vec::new(),
            region: None,
            in_string: false,
            escaped: false,
            in_key: false,
            skeleton_from: 0,
            skeleton: Vec::new(),
            batch: Batch::default(),
        }
    }

    /// Reads `buf[from..]`; returns where the bytes still needed start.
    fn scan<T: DeserializeOwned>(
        &mut self,
        buf: &[u8],
        from: usize,
        at_end: bool,
        decoding: &mut Decoding<'_, '_, T>,
    ) -> Result<usize, serde_json::Error> {
        let mut i = from;
        while i < buf.len() {
            if self.in_string {
                i = self.skip_string(buf, i);
                continue;
            }
            let byte = buf[i];
            if byte == b'"' {
                self.in_string = true;
                self.in_key = self.region.is_none()
                    && matches!(
                        self.frames.last(),
                        Some(Frame::Object { want_key: true, .. })
                    );
                if self.in_key {
                    if let Some(Frame::Object { key, .. }) = self.frames.last_mut() {
                        key.clear();
                    }
                }
            } else if self.region.is_some() {
                self.region_byte(buf, i, decoding)?;
            } else {
                self.skeleton_byte(buf, i, decoding)?;
            }
            i += 1;
        }
        if at_end {
            if self.in_string || self.region.is_some() || !self.frames.is_empty() {
                return Err(malformed("the document ends inside a value"));
            }
            self.skeleton.extend_from_slice(&buf[self.skeleton_from..]);
            return Ok(buf.len());
        }
        match &self.region {
            Some(region) => Ok(region.element_start),
            None => {
                self.skeleton
                    .extend_from_slice(&buf[self.skeleton_from..buf.len()]);
                self.skeleton_from = buf.len();
                Ok(buf.len())
            }
        }
    }

    /// The buffer lost its first `by` bytes.
    fn shift(&mut self, by: usize) {
        self.skeleton_from = self.skeleton_from.saturating_sub(by);
        if let Some(region) = &mut self.region {
            region.element_start -= by;
        }
    }

    /// Inside a string at `i`: returns where reading goes on (past its closing quote,
    /// or the buffer's end).
    fn skip_string(&mut self, buf: &[u8], i: usize) -> usize {
        let mut at = i;
        if self.escaped {
            self.escaped = false;
            at += 1;
        }
        let (end, next) = match memchr::memchr2(b'"', b'\\', &buf[at.min(buf.len())..]) {
            None => (buf.len(), buf.len()),
            Some(k) if buf[at + k] == b'\\' => {
                self.escaped = true;
                (at + k, at + k + 1)
            }
            Some(k) => {
                self.in_string = false;
                (at + k, at + k + 1)
            }
        };
        if self.in_key {
            if let Some(Frame::Object { key, .. }) = self.frames.last_mut() {
                key.extend_from_slice(&buf[i..end.max(i)]);
            }
            if self.escaped {
                // A key spelled with escapes matches no rule: kept in the skeleton.
                if let Some(Frame::Object { key, .. }) = self.frames.last_mut() {
                    key.push(b'\\');
                }
            }
            self.in_key = self.in_string;
        }
        next
    }

    fn skeleton_byte<T: DeserializeOwned>(
        &mut self,
        buf: &[u8],
        i: usize,
        decoding: &mut Decoding<'_, '_, T>,
    ) -> Result<(), serde_json::Error> {
        match buf[i] {
            b'{' => self.frames.push(Frame::Object {
                key: Vec::new(),
                want_key: true,
            }),
            b'[' => match (self.rule)(&self.path()) {
                ArrayRule::Keep => self.frames.push(Frame::Array { index: 0 }),
                rule => {
                    self.skeleton
                        .extend_from_slice(&buf[self.skeleton_from..=i]);
                    let split = rule == ArrayRule::Split;
                    if split {
                        self.batch = Batch {
                            list: decoding.new_list(self.indexes()),
                            ..Batch::default()
                        };
                    }
                    self.region = Some(Region {
                        split,
                        depth: 0,
                        element_start: i + 1,
                        elements: 0,
                    });
                }
            },
            b'}' => match self.frames.pop() {
                Some(Frame::Object { .. }) => {}
                _ => return Err(malformed("a '}' closes no object")),
            },
            b']' => match self.frames.pop() {
                Some(Frame::Array { .. }) => {}
                _ => return Err(malformed("a ']' closes no array")),
            },
            b',' => match self.frames.last_mut() {
                Some(Frame::Object { want_key, .. }) => *want_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => return Err(malformed("a ',' outside any value")),
            },
            b':' => {
                if let Some(Frame::Object { want_key, .. }) = self.frames.last_mut() {
                    *want_key = false;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn region_byte<T: DeserializeOwned>(
        &mut self,
        buf: &[u8],
        i: usize,
        decoding: &mut Decoding<'_, '_, T>,
    ) -> Result<(), serde_json::Error> {
        let Some(region) = &mut self.region else {
            return Ok(());
        };
        match buf[i] {
            b'{' | b'[' => region.depth += 1,
            b'}' if region.depth == 0 => return Err(malformed("a '}' closes no object")),
            b'}' => region.depth -= 1,
            b']' if region.depth > 0 => region.depth -= 1,
            b',' | b']' if region.depth == 0 => {
                let element = &buf[region.element_start..i];
                let closing = buf[i] == b']';
                let blank = element.iter().all(u8::is_ascii_whitespace);
                // `[ ]` is an empty list; any other blank element is an error.
                if blank && !(closing && region.elements == 0) {
                    return Err(malformed("an empty element in a list"));
                }
                if !blank {
                    region.elements += 1;
                    if region.split {
                        self.batch.text.extend_from_slice(element);
                        self.batch.ends.push(self.batch.text.len());
                        if self.batch.ends.len() == BATCH {
                            let next = Batch {
                                list: self.batch.list,
                                ..Batch::default()
                            };
                            decoding.send(std::mem::replace(&mut self.batch, next))?;
                        }
                    }
                }
                region.element_start = i + 1;
                if closing {
                    if region.split {
                        decoding.send(std::mem::take(&mut self.batch))?;
                    }
                    self.region = None;
                    self.skeleton_from = i;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The path of an array opening now.
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.frames {
            match frame {
                Frame::Object { key, .. } => {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(&String::from_utf8_lossy(key));
                }
                Frame::Array { .. } => path.push_str("[]"),
            }
        }
        path
    }

    fn indexes(&self) -> Vec<usize> {
        self.frames
            .iter()
            .filter_map(|f| match f {
                Frame::Array { index } => Some(*index),
                Frame::Object { .. } => None,
            })
            .collect()
    }
}

/// Decoded batches from the workers, put back in document order.
struct Decoding<'scope, 'sink, T> {
    convert: fn(T) -> cluster::Task,
    workers: Workers<'scope, T>,
    from_workers: Receiver<Decoded>,
    /// Batches handed over so far (the next one's sequence number).
    sent: usize,
    /// Batches decoded ahead of their turn, by sequence number.
    waiting: std::collections::BTreeMap<usize, Decoded>,
    /// The sequence number whose tasks join the lists next.
    next: usize,
    /// One sharing for the whole document, applied in document order.
    sharing: TaskSharing,
    lists: Vec<CutList>,
    sink: Option<TaskSink<'sink>>,
}

/// Starts the workers on a [`Work`]; false when none could start.
type StartWorkers<'scope, T> = Box<dyn FnOnce(Work<T>) -> bool + 'scope>;

/// The workers, started at the first full batch (a short document needs none).
enum Workers<'scope, T> {
    NotStarted(StartWorkers<'scope, T>, Work<T>, Sender<Batch>),
    Running(Sender<Batch>),
    /// None could start: batches are decoded on the reading thread.
    Unavailable,
}

/// A decoded batch: its sequence number, its list and its tasks.
type Decoded = (usize, usize, Result<Vec<cluster::Task>, serde_json::Error>);

/// What a worker needs: batches in, decoded batches out.
struct Work<T> {
    batches: Receiver<Batch>,
    decoded: Sender<Decoded>,
    convert: fn(T) -> cluster::Task,
}

impl<T> Clone for Work<T> {
    fn clone(&self) -> Self {
        Work {
            batches: self.batches.clone(),
            decoded: self.decoded.clone(),
            convert: self.convert,
        }
    }
}

impl<T: DeserializeOwned> Work<T> {
    fn run(self) {
        for batch in self.batches {
            let tasks = decode_batch(&batch, self.convert);
            if self.decoded.send((batch.seq, batch.list, tasks)).is_err() {
                return;
            }
        }
    }
}

fn decode_batch<T: DeserializeOwned>(
    batch: &Batch,
    convert: fn(T) -> cluster::Task,
) -> Result<Vec<cluster::Task>, serde_json::Error> {
    let mut start = 0;
    batch
        .ends
        .iter()
        .map(|&end| {
            let decoded: T = serde_json::from_slice(&batch.text[start..end])?;
            start = end;
            let mut task = convert(decoded);
            task.compact();
            Ok(task)
        })
        .collect()
}

impl<'scope, 'sink, T: DeserializeOwned> Decoding<'scope, 'sink, T> {
    fn new(
        convert: fn(T) -> cluster::Task,
        start: StartWorkers<'scope, T>,
        sink: Option<TaskSink<'sink>>,
    ) -> Self {
        let (to_workers, batches) = bounded(2 * MAX_WORKERS);
        let (decoded, from_workers) = unbounded();
        let work = Work {
            batches,
            decoded,
            convert,
        };
        Decoding {
            convert,
            workers: Workers::NotStarted(start, work, to_workers),
            from_workers,
            sent: 0,
            waiting: Default::default(),
            next: 0,
            sharing: TaskSharing::default(),
            lists: Vec::new(),
            sink,
        }
    }

    /// Hands a batch of list `list` over: to the workers once a batch is full, else
    /// (a short document, or no thread to be had) decoded here.
    fn send(&mut self, mut batch: Batch) -> Result<(), serde_json::Error> {
        if batch.ends.is_empty() {
            return Ok(());
        }
        batch.seq = self.sent;
        self.sent += 1;
        if batch.ends.len() == BATCH {
            let workers = std::mem::replace(&mut self.workers, Workers::Unavailable);
            self.workers = match workers {
                Workers::NotStarted(start, work, to_workers) => {
                    if start(work) {
                        Workers::Running(to_workers)
                    } else {
                        Workers::Unavailable
                    }
                }
                other => other,
            };
        }
        match &self.workers {
            // Workers only stop when this side hangs up (or one panicked: the scope
            // re-raises it).
            Workers::Running(to_workers) => to_workers
                .send(batch)
                .map_err(|_| serde_json::Error::custom("the task decoders stopped")),
            _ => {
                let tasks = decode_batch(&batch, self.convert);
                self.take((batch.seq, batch.list, tasks))
            }
        }
    }

    /// Takes the batches already decoded.
    fn collect_ready(&mut self) -> Result<(), serde_json::Error> {
        while let Ok(decoded) = self.from_workers.try_recv() {
            self.take(decoded)?;
        }
        Ok(())
    }

    /// Files a decoded batch; every batch now in turn joins its list, in order.
    fn take(&mut self, decoded: Decoded) -> Result<(), serde_json::Error> {
        self.waiting.insert(decoded.0, decoded);
        while let Some((_, list, tasks)) = self.waiting.remove(&self.next) {
            self.next += 1;
            let mut tasks = tasks?;
            for task in &mut tasks {
                self.sharing.share(task);
            }
            match &mut self.sink {
                Some(sink) => sink(list, tasks),
                None => self.lists[list].tasks.append(&mut tasks),
            }
        }
        Ok(())
    }

    /// A list starts, at `indexes`.
    fn new_list(&mut self, indexes: Vec<usize>) -> usize {
        self.lists.push(CutList {
            indexes,
            tasks: Vec::new(),
        });
        self.lists.len() - 1
    }

    /// Every list, once every batch is back.
    fn finish(mut self) -> Result<Vec<CutList>, serde_json::Error> {
        // Hanging up ends the workers once they are through the batches queued.
        self.workers = Workers::Unavailable;
        while self.next < self.sent {
            let decoded = self
                .from_workers
                .recv()
                .map_err(|_| serde_json::Error::custom("a task decoder stopped"))?;
            self.take(decoded)?;
        }
        Ok(self.lists)
    }
}

#[cfg(test)]
mod tests {
    use crate::mesos::state::State;

    /// What serde_json makes of the whole document in memory, without cutting.
    fn whole(text: &[u8]) -> Result<State, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// A reader handing over at most `step` bytes at a time, so that strings, escapes
    /// and keys straddle reads.
    struct Trickle<'a> {
        text: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.text.len());
            buf[..n].copy_from_slice(&self.text[..n]);
            self.text = &self.text[n..];
            Ok(n)
        }
    }

    fn cut(text: &[u8], step: usize) -> Result<State, serde_json::Error> {
        State::from_reader(Trickle { text, step })
    }

    /// A task whose strings hold what the scanner must read past: quotes, backslashes,
    /// brackets and braces, escapes.
    fn task(i: usize) -> String {
        format!(
            r#" {{ "id" : "t{i}.a\"]}}[{{\\" , "name":"app{app}", "framework_id":"fw-{fw}",
              "slave_id":"s{agent}","state":"TASK_RUNNING","resources":{{"ports":"[{port}-{port}]"}},
              "statuses":[{{"state":"TASK_RUNNING","timestamp":{i}.5,"labels":[{{"key":"k]","value":"\u005d"}}],
              "container_status":{{"network_infos":[{{"ip_addresses":[{{"ip_address":"10.0.{}.{}"}}]}}]}}}}],
              "discovery":{{"visibility":"FRAMEWORK","name":"d{i}","ports":{{"ports":[{{"number":{port},"protocol":"tcp","name":"http"}}]}}}} }}"#,
            i / 200,
            i % 200,
            app = i % 7,
            fw = i % 3,
            agent = i % 11,
            port = 31_000 + i,
        )
    }

    /// A state document with every shape a task list takes: long, empty, blank, null,
    /// absent, and a key spelled with an escape (kept whole, decoded as usual).
    fn document(long: usize, task: fn(usize) -> String) -> String {
        let tasks = |n: usize| (0..n).map(task).collect::<Vec<_>>().join(",\n");
        format!(
            r#"{{"version":"1.11","leader":"master@10.0.0.1:5050","frameworks":[
              {{"id":"fw-0","name":"marathon","tasks":[{long_list}],"completed_tasks":[{done}]}},
              {{"id":"fw-1","name":"empty","tasks":[],"pid":"scheduler@10.0.0.2:1"}},
              {{"id":"fw-2","name":"blank","tasks":[ ] , "hostname":"h"}},
              {{"id":"fw-3","name":"null","tasks":null}},
              {{"id":"fw-4","name":"absent"}},
              {{"id":"fw-5","name":"escaped key","t\u0061sks":[{short}]}},
              {{"id":"fw-6","name":"short","tasks" : [ {short} ] }}],
            "completed_frameworks":[{{"id":"old","tasks":[{short}]}}],
            "slaves":[{{"id":"s0","hostname":"agent-0","pid":"slave(1)@10.0.1.1:5051"}}]}}"#,
            long_list = tasks(long),
            done = tasks(3),
            short = tasks(2),
        )
    }

    #[test]
    fn a_cut_document_decodes_as_it_would_whole() {
        // Enough tasks for several batches on the workers.
        let text = document(3 * super::BATCH + 17, task);
        let expected = format!("{:?}", whole(text.as_bytes()).unwrap()); // ok: test
        for step in [1, 7, 4096, usize::MAX] {
            let got = cut(text.as_bytes(), step).unwrap(); // ok: test
            assert_eq!(format!("{got:?}"), expected, "read {step} bytes at a time");
            assert_eq!(got.frameworks[0].tasks.len(), 3 * super::BATCH + 17);
            assert_eq!(got.frameworks[5].tasks.len(), 2);
            assert_eq!(got.frameworks[6].tasks.len(), 2);
        }
        // The same tasks share one copy of their strings across batches and lists.
        let got = cut(text.as_bytes(), usize::MAX).unwrap(); // ok: test
        let (first, last) = (&got.frameworks[0].tasks[0], &got.frameworks[6].tasks[0]);
        assert!(std::sync::Arc::ptr_eq(&first.agent_id, &last.agent_id));
    }

    #[test]
    fn a_short_document_decodes_without_workers() {
        let text = document(5, task);
        let expected = format!("{:?}", whole(text.as_bytes()).unwrap()); // ok: test
        let got = cut(text.as_bytes(), 3).unwrap(); // ok: test
        assert_eq!(format!("{got:?}"), expected);
    }

    #[test]
    fn a_broken_document_is_an_error_wherever_it_breaks() {
        let text = document(2 * super::BATCH, task);
        let bytes = text.as_bytes();
        // Cut short anywhere: an error, never a panic or a partial state.
        for end in (0..bytes.len() - 1).step_by(997) {
            assert!(cut(&bytes[..end], 4096).is_err(), "cut at {end}");
        }
        // A bad task in a later batch fails the whole document.
        let bad = text.replacen(r#""name":"app3""#, r#""name":3"#, 1);
        assert!(whole(bad.as_bytes()).is_err());
        assert!(cut(bad.as_bytes(), 4096).is_err());
        // Structure the scanner checks itself.
        for broken in [
            &br#"{"frameworks":[{"tasks":[{"id":"a"},]}]}"#[..],
            br#"{"frameworks":[{"tasks":[,]}]}"#,
            br#"{"frameworks":[{"tasks":[{"id":"a"}}]}]}"#,
            br#"{"frameworks":[{"tasks":[{"id":"a"} {"id":"b"}]}]}"#,
            br#"{"frameworks":[{"tasks":[]}]}]"#,
            br#"{"frameworks":[{"tasks":[]}]} {}"#,
            br#"}"#,
            br#"{"a":"unterminated}"#,
        ] {
            assert!(
                cut(broken, 5).is_err(),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
    }

    #[test]
    fn whatever_decodes_whole_decodes_the_same_cut() {
        // Every single-byte change of a small document: the cut decoder never panics,
        // and agrees whenever the whole document decodes.
        let small_task = |i: usize| {
            format!(r#"{{"id":"t{i}\"]","state":"TASK_RUNNING","statuses":[{{"state":"x"}}]}}"#)
        };
        let text = document(2, small_task);
        let mut bytes = text.into_bytes();
        for at in 0..bytes.len() {
            let original = bytes[at];
            for replacement in [b'"', b'\\', b']', b'}', b','] {
                bytes[at] = replacement;
                let got = cut(&bytes, 64);
                if let Ok(expected) = whole(&bytes) {
                    let got = got.unwrap_or_else(|e| panic!("at {at}: {e}")); // ok: test
                    assert_eq!(format!("{got:?}"), format!("{expected:?}"), "at {at}");
                }
            }
            bytes[at] = original;
        }
    }
}
