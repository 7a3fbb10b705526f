//! `vouch scan merge`: parts of a plan merged into the report one scan of the plan gives,
//! streamed. The plan is read a line at a time and every part once, side by side, each
//! file of a part as it comes: a part lists its files in the plan's order (`--shard`
//! keeps it, so does `--files-from` given lines in that order), so the merge walks the
//! plan and takes each file from the part whose next file it is. What is held is one
//! file per part, the report's totals, residuals and errors: memory does not grow with
//! the number of files (with `--custody`; without it the report lists every file).
//!
//! Nothing read is trusted before the end: a part's authentication (an HMAC over the
//! part as vouch writes it) and the plan's fingerprint are known only once all of it was
//! read, so the report is made first and given only when every check passed; the
//! custody file it streamed to is then renamed into place by the caller.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;

use crate::domain::custody::CustodyWriter;
use crate::domain::plan::{FileRecord, PlanReader, short};
use crate::domain::report::{ScanErrorEntry, ScanReport};
use crate::domain::scan::facts::TableFacts;
use crate::domain::scan::{Assembler, FileResult, Head};
use crate::domain::shard::{PartialFile, PartialReport};
use crate::domain::subjects::{DocumentMac, SubjectLabeler, check_tag};

/// A part to merge: its name in messages, and how to open it (a part not written the way
/// vouch writes it is opened a second time and read whole).
pub struct PartInput<'a> {
    pub name: String,
    pub open: Box<dyn Fn() -> std::io::Result<Box<dyn BufRead + Send + 'a>> + 'a>,
}

/// Problems kept to be shown; past it they are counted.
const MAX_PROBLEMS: usize = 1000;

/// The longest value of a part read (one file's entry), and the most of its head or of what
/// follows its files.
const MAX_VALUE: usize = 256 << 20;

#[derive(Default)]
struct Problems {
    lines: Vec<String>,
    more: u64,
}

impl Problems {
    fn push(&mut self, line: String) {
        if self.lines.len() < MAX_PROBLEMS {
            self.lines.push(line);
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn into_lines(mut self) -> Vec<String> {
        if self.more > 0 {
            self.lines
                .push(format!("… and {} more problems", self.more));
        }
        self.lines
    }
}

/// Merges `parts` of the plan read from `plan` into the report one scan of the plan
/// gives. Refuses, with one line per problem, when a part's authentication does not
/// match (then only those are said), the plan was edited, a file of the plan is missing
/// or covered twice, a part covers a file the plan does not list (or lists elsewhere,
/// or otherwise), or the parts disagree on the plan, lake, subjects, legal holds, options
/// or index.
///
/// With `custody`, the objects go there line by line (as a single scan writes them) and
/// the caller records its digest in the report and seals it again.
pub fn merge<'a, R: BufRead + Send + 'a>(
    plan: R,
    plan_shown: &str,
    parts: Vec<PartInput<'a>>,
    labeler: &SubjectLabeler,
    custody: Option<&mut CustodyWriter<'_>>,
) -> Result<ScanReport, Vec<String>> {
    if parts.is_empty() {
        return Err(vec!["no partial reports given".into()]);
    }
    let reader = PlanReader::open(plan, plan_shown).map_err(|e| vec![e.to_string()])?;
    let header = reader.header.clone();
    // The plan is read by a thread of its own; each part streamed is read a batch ahead
    // by jobs on the worker pool (parsed and authenticated there); this thread walks the
    // plan and assembles the report.
    std::thread::scope(|threads| {
        rayon::in_place_scope(|scope| {
            let mut plan = PlanFeed::start(reader, threads);
            let mut problems = Problems::default();
            let mut open: Vec<Part<'_>> = Vec::with_capacity(parts.len());
            for input in parts {
                match Part::open(input, labeler, scope) {
                    Ok(p) => open.push(p),
                    Err(line) => problems.push(line),
                }
            }
            if open.is_empty() {
                return Err(problems.into_lines());
            }
            agreement(&header, &open, &mut problems);
            let facts = merged_facts(&header.tables, &open, &mut problems);

            let mut m = Merging {
                scope,
                parts: open,
                heads: HashMap::new(),
                shared: Vec::new(),
                problems,
                missing: 0,
                missing_shown: Vec::new(),
                plan_error: None,
                without_facts: BTreeSet::new(),
                spent: Default::default(),
            };
            for i in 0..m.parts.len() {
                m.advance(i);
            }
            let first = &m.parts[0].head;
            let holds: BTreeSet<String> = first.legal_holds.iter().cloned().collect();
            let (subjects, subjects_fingerprint, index) = (
                first.subjects,
                first.subjects_fingerprint.clone(),
                first.index.clone(),
            );
            let mut prior_errors: Vec<ScanErrorEntry> = header.errors.clone();
            for p in &m.parts {
                for e in &p.head.prior_errors {
                    if !prior_errors.contains(e) {
                        prior_errors.push(e.clone());
                    }
                }
            }
            let mut asm = Assembler::new(labeler, &holds, prior_errors, custody);
            asm.dispose_on_workers();
            let tables = &header.tables;
            let (lake, plan_fingerprint) = (header.lake.clone(), header.fingerprint.clone());
            for (t, facts) in tables.iter().zip(facts) {
                let lt = t.listed(Vec::new());
                let format = t.format.as_deref();
                let files = std::iter::from_fn(|| m.next_of_table(&mut plan, &t.table, format));
                asm.table_files(&lt, files, facts);
            }
            // Past the last table: a line of a table the header does not list, or the end.
            if m.plan_error.is_none()
                && let Err(e) = plan.finish()
            {
                m.plan_error = Some(e);
            }
            let report = asm.finish(Head {
                lake,
                subjects,
                subjects_fingerprint,
                plan_fingerprint,
                tables: tables.len(),
                bytes_read: m.parts.iter().map(|p| p.head.bytes_read).sum(),
                read_requests: m.parts.iter().map(|p| p.head.read_requests).sum(),
                index,
            });
            m.finish(report, labeler)
        })
    })
}

/// One part being read.
struct Part<'a> {
    name: String,
    /// Everything but the files.
    head: PartialReport,
    files: Files<'a>,
    /// The part's next file, not yet merged, and the hash of its key ([`key_hash`]).
    next: Option<PartialFile>,
    next_key: u64,
    /// Why the part's authentication does not hold, or why it could not be read to its
    /// end (known at its end, or at once for a part read whole).
    unsealed: Option<String>,
    /// A part that lists a file the plan does not have where the merge is: the file, and
    /// how many files came after it.
    stuck: Option<(String, u64)>,
    /// The part covers files but names no plan.
    planless_files: bool,
}

/// Files of a part read by one job.
const BATCH: usize = 128;

/// A streamed part where its last job left it.
struct Stream<'a> {
    json: PartJson<Box<dyn BufRead + Send + 'a>>,
    mac: Option<DocumentMac>,
}

/// What a job read: files, then the stream to read on, or its end (why the part's
/// authentication does not hold, None when it holds; or why it could not be read on).
struct Refill<'a> {
    files: Vec<PartialFile>,
    next: Result<Stream<'a>, Result<Option<String>, String>>,
}

/// Where a part's files come from.
enum Files<'a> {
    /// Read a batch ahead by a job of the worker pool.
    Stream {
        pending: Option<std::sync::mpsc::Receiver<Refill<'a>>>,
        batch: std::vec::IntoIter<PartialFile>,
    },
    /// Read whole (a part not written the way vouch writes it).
    Whole(std::vec::IntoIter<PartialFile>),
}

/// Reads the next batch of `stream` on the pool; its result comes on the receiver.
fn refill<'a>(
    scope: &rayon::Scope<'a>,
    mut stream: Stream<'a>,
) -> std::sync::mpsc::Receiver<Refill<'a>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    scope.spawn(move |_| {
        let mut files = Vec::with_capacity(BATCH);
        let next = match read_batch(&mut stream, &mut files) {
            Ok(true) => Ok(stream),
            Ok(false) => Err(finish_stream(stream)),
            Err(e) => Err(Err(e)),
        };
        let _ = tx.send(Refill { files, next });
    });
    rx
}

/// Up to [`BATCH`] files of the stream, their bytes authenticated; false at the end.
fn read_batch(stream: &mut Stream<'_>, files: &mut Vec<PartialFile>) -> Result<bool, String> {
    while files.len() < BATCH {
        let mac = &mut stream.mac;
        // The entry's bytes as written are authenticated: the part's first entry was
        // found to be written as vouch writes entries, so every one is.
        let entry = stream.json.next_file_with(|raw| {
            if let Some(mac) = mac {
                mac.update(b",");
                mac.update(raw);
            }
            serde_json::from_slice::<PartialFile>(raw)
        })?;
        match entry {
            None => return Ok(false),
            Some(f) => files
                .push(f.map_err(|e| format!("not a vouch partial report: a file's entry: {e}"))?),
        }
    }
    Ok(true)
}

/// After a stream's files: what follows them, and whether its authentication holds.
fn finish_stream(mut stream: Stream<'_>) -> Result<Option<String>, String> {
    let tail = stream.json.tail()?;
    if !tail.table_facts.is_empty() {
        return Err(
            "its table_facts come after its files (a part of an older vouch): scan the part \
             again"
                .into(),
        );
    }
    let want = stream.mac.map(|mut mac| {
        mac.update(b"]}");
        mac.tag()
    });
    Ok(check_tag(want, tail.authentication.as_deref()).err())
}

impl<'a> Part<'a> {
    /// Opens a part and reads its head and first file. A part written as vouch writes
    /// parts (compact, its fields in order: its head and first entry are the bytes vouch
    /// would write for them) is streamed, a batch ahead, by jobs of `scope`, which
    /// authenticate its entries' bytes as written as they come. Any other part (indented
    /// or reordered by another tool, or of an earlier vouch) is read whole and
    /// authenticated as vouch would write it.
    fn open(
        input: PartInput<'a>,
        labeler: &SubjectLabeler,
        scope: &rayon::Scope<'a>,
    ) -> Result<Part<'a>, String> {
        let name = input.name;
        let failed = |e: String| format!("{name}: {e}");
        let reader = (input.open)().map_err(|e| failed(crate::io::store::io_message(&e)))?;
        let mut json = PartJson::new(reader);
        if let Some(head) = json.head().map_err(&failed)? {
            let bytes = serde_json::to_vec(&head).map_err(|e| failed(e.to_string()))?;
            let as_written = head.authentication.is_none() && !json.spaced && bytes == json.head;
            // The first entry: parsed, and written again as vouch writes it.
            let first = json
                .next_file_with(|raw| {
                    let f = serde_json::from_slice::<PartialFile>(raw).ok()?;
                    let same = serde_json::to_vec(&f).is_ok_and(|b| b == raw);
                    Some((f, same, raw.len()))
                })
                .map_err(&failed)?;
            let streamable = match &first {
                Some(Some((_, same, _))) => *same,
                Some(None) => false,
                None => true,
            };
            if as_written && streamable {
                let mut mac = labeler.document_mac("partial report");
                let mut batch = Vec::new();
                if let Some(mac) = &mut mac {
                    // `..."files":[]}`: the files go between the brackets.
                    mac.update(&bytes[..bytes.len() - 2]);
                }
                if let Some(Some((f, _, _))) = first {
                    if let Some(mac) = &mut mac {
                        mac.update(&serde_json::to_vec(&f).map_err(|e| failed(e.to_string()))?);
                    }
                    batch.push(f);
                }
                let stream = Stream { json, mac };
                let files = Files::Stream {
                    pending: Some(refill(scope, stream)),
                    batch: batch.into_iter(),
                };
                return Ok(Part::new(name, head, files));
            }
        }
        // Not as vouch writes a part: read it again, whole.
        drop(json);
        let reader = (input.open)().map_err(|e| failed(crate::io::store::io_message(&e)))?;
        let mut part: PartialReport = serde_json::from_reader(reader)
            .map_err(|e| failed(format!("not a vouch partial report: {e}")))?;
        let unsealed = part.check_seal(labeler).err();
        let files = std::mem::take(&mut part.files);
        let mut p = Part::new(name, part, Files::Whole(files.into_iter()));
        p.unsealed = unsealed;
        Ok(p)
    }

    fn new(name: String, head: PartialReport, files: Files<'a>) -> Part<'a> {
        Part {
            name,
            head,
            files,
            next: None,
            next_key: 0,
            unsealed: None,
            stuck: None,
            planless_files: false,
        }
    }

    /// The part's next file into `next`; at its end, its authentication's outcome.
    fn read_next(&mut self, scope: &rayon::Scope<'a>) {
        self.next = loop {
            match &mut self.files {
                Files::Whole(it) => break it.next(),
                Files::Stream { pending, batch } => {
                    if let Some(f) = batch.next() {
                        break Some(f);
                    }
                    let Some(rx) = pending.take() else {
                        break None;
                    };
                    match rx.recv() {
                        Ok(r) => {
                            *batch = r.files.into_iter();
                            match r.next {
                                // The next batch is read while this one is merged.
                                Ok(stream) => *pending = Some(refill(scope, stream)),
                                Err(Ok(unsealed)) => self.unsealed = unsealed,
                                Err(Err(e)) => self.unsealed = Some(e),
                            }
                        }
                        Err(_) => self.unsealed = Some("its reading stopped early".into()),
                    }
                }
            }
        };
        if self.next.is_some() && self.head.plan.is_empty() {
            self.planless_files = true;
        }
    }
}

/// Plan lines sent at a time by the plan's reading thread.
const PLAN_BATCH: usize = 256;

/// What the plan's reading thread sends: files, then whether the plan is the plan it
/// says (or why it could not be read on).
enum PlanBatch {
    Files(Vec<FileRecord>),
    End(Result<(), String>),
}

/// The plan's files as its reading thread sends them (their records: the rest of each line
/// is checked and dropped there).
struct PlanFeed {
    batches: std::sync::mpsc::Receiver<PlanBatch>,
    batch: std::vec::IntoIter<FileRecord>,
    peeked: Option<FileRecord>,
    end: Option<Result<(), String>>,
}

impl PlanFeed {
    fn start<'scope, 'env: 'scope, R: BufRead + Send + 'env>(
        mut reader: PlanReader<R>,
        scope: &'scope std::thread::Scope<'scope, 'env>,
    ) -> PlanFeed {
        let (tx, rx) = std::sync::mpsc::sync_channel(4);
        scope.spawn(move || {
            let mut batch = Vec::with_capacity(PLAN_BATCH);
            let end = loop {
                match reader.next_file() {
                    Ok(Some(f)) => {
                        batch.push(f.record);
                        if batch.len() == PLAN_BATCH {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(PLAN_BATCH));
                            if tx.send(PlanBatch::Files(full)).is_err() {
                                return;
                            }
                        }
                    }
                    Ok(None) => break reader.finish().map_err(|e| e.to_string()),
                    Err(e) => break Err(e.to_string()),
                }
            };
            if !batch.is_empty() {
                let _ = tx.send(PlanBatch::Files(batch));
            }
            let _ = tx.send(PlanBatch::End(end));
        });
        PlanFeed {
            batches: rx,
            batch: Vec::new().into_iter(),
            peeked: None,
            end: None,
        }
    }

    /// The next file without taking it; an error when the plan could not be read on.
    fn peek(&mut self) -> Result<Option<&FileRecord>, String> {
        while self.peeked.is_none() && self.end.is_none() {
            if let Some(f) = self.batch.next() {
                self.peeked = Some(f);
                break;
            }
            match self.batches.recv() {
                Ok(PlanBatch::Files(v)) => self.batch = v.into_iter(),
                Ok(PlanBatch::End(end)) => self.end = Some(end),
                Err(_) => self.end = Some(Err("the plan's reading stopped early".into())),
            }
        }
        match (&self.peeked, &self.end) {
            (Some(_), _) => Ok(self.peeked.as_ref()),
            (None, Some(Err(e))) => Err(e.clone()),
            (None, _) => Ok(None),
        }
    }

    fn take(&mut self) -> Option<FileRecord> {
        self.peeked.take()
    }

    /// After the last file: whether the plan is the plan it says.
    fn finish(&mut self) -> Result<(), String> {
        if self.peek()?.is_some() {
            return Err("the plan has files after its last table's".into());
        }
        self.end.clone().unwrap_or(Ok(()))
    }
}

/// The merge as it walks the plan.
struct Merging<'s, 'a> {
    scope: &'s rayon::Scope<'a>,
    parts: Vec<Part<'a>>,
    /// A hash of each part's next file's key -> the part whose next file has it; a
    /// second part with the same hash (the same file covered twice, or a collision) is
    /// in `shared`.
    heads: HashMap<u64, usize>,
    shared: Vec<(u64, usize)>,
    problems: Problems,
    missing: u64,
    missing_shown: Vec<String>,
    /// The plan could not be read on (its line is the problem).
    plan_error: Option<String>,
    /// (part, table) said to have read files of a format table without its facts.
    without_facts: BTreeSet<(usize, String)>,
    /// Parts' files once merged, dropped on the workers that parsed them.
    spent: crate::domain::scan::Disposal<PartialFile>,
}

/// xxHash64 of a file's key (table, path, version id).
fn key_hash(table: &str, file: &str, version: Option<&str>) -> u64 {
    use std::hash::Hasher;
    let mut h = twox_hash::XxHash64::with_seed(0);
    h.write(table.as_bytes());
    h.write(&[0xff]);
    h.write(file.as_bytes());
    h.write(&[0xff]);
    if let Some(v) = version {
        h.write(v.as_bytes());
    }
    h.finish()
}

impl Merging<'_, '_> {
    /// Reads part `i`'s next file and files it under its key.
    fn advance(&mut self, i: usize) {
        if let Some(f) = self.parts[i].next.take() {
            self.unfile(self.parts[i].next_key, i);
            self.spent.push(f);
        }
        self.parts[i].read_next(self.scope);
        if let Some(f) = &self.parts[i].next {
            let k = key_hash(
                &f.record.table,
                &f.record.file,
                f.record.version_id.as_deref(),
            );
            self.parts[i].next_key = k;
            if let Some(&other) = self.heads.get(&k) {
                debug_assert_ne!(other, i);
                self.shared.push((k, i));
            } else {
                self.heads.insert(k, i);
            }
        }
    }

    fn unfile(&mut self, k: u64, i: usize) {
        if self.heads.get(&k) == Some(&i) {
            match self.shared.iter().position(|&(sk, _)| sk == k) {
                Some(at) => {
                    let (_, j) = self.shared.swap_remove(at);
                    self.heads.insert(k, j);
                }
                None => {
                    self.heads.remove(&k);
                }
            }
        } else if let Some(at) = self.shared.iter().position(|&e| e == (k, i)) {
            self.shared.swap_remove(at);
        }
    }

    /// The parts whose next file is `r`, in the order given: the first, and any more
    /// (a file covered twice; none allocated otherwise).
    fn covering(&self, k: u64, r: &FileRecord) -> (Option<usize>, Vec<usize>) {
        let is_next = |i: usize| {
            self.parts[i]
                .next
                .as_ref()
                .is_some_and(|f| f.record.key_eq(r))
        };
        let mut all: Vec<usize> = Vec::new();
        if !self.shared.is_empty() {
            all.extend(
                self.shared
                    .iter()
                    .filter(|&&(sk, _)| sk == k)
                    .map(|&(_, j)| j),
            );
        }
        let head = self.heads.get(&k).copied();
        if all.is_empty() {
            return (head.filter(|&i| is_next(i)), all);
        }
        all.extend(head);
        all.retain(|&i| is_next(i));
        all.sort_unstable();
        let first = (!all.is_empty()).then(|| all.remove(0));
        (first, all)
    }

    /// The next file of the plan if it is of `table`: its result from the part covering
    /// it (or an error when none does).
    fn next_of_table(
        &mut self,
        plan: &mut PlanFeed,
        table: &str,
        format: Option<&str>,
    ) -> Option<(
        std::borrow::Cow<'static, crate::io::store::ObjectMeta>,
        Result<FileResult, String>,
    )> {
        if self.plan_error.is_some() {
            return None;
        }
        match plan.peek() {
            Ok(Some(f)) if f.table == table => {}
            Ok(_) => return None,
            Err(e) => {
                self.plan_error = Some(e);
                return None;
            }
        }
        let planned: FileRecord = plan.take()?;
        let r = &planned;
        let k = key_hash(&r.table, &r.file, r.version_id.as_deref());
        let (first, more) = self.covering(k, r);
        let result = match first {
            None => {
                self.missing += 1;
                if self.missing_shown.len() < 5 {
                    self.missing_shown.push(r.shown());
                }
                Err("no result".into())
            }
            Some(i) => {
                let i = &i;
                for j in &more {
                    self.problems.push(format!(
                        "{} is covered twice: by {} and by {}",
                        r.shown(),
                        self.parts[*i].name,
                        self.parts[*j].name
                    ));
                }
                let p = &mut self.parts[*i];
                // Taken, not copied: the part's next file is read below.
                let f = p
                    .next
                    .as_mut()
                    .map(|f| (f.record != *r, f.result.take(), f.error.take()));
                let (differs, result, error) = f.unwrap_or((true, None, None));
                let p = &self.parts[*i];
                if differs {
                    self.problems.push(format!(
                        "{}: {} differs from the plan (size, modification time, ETag or version)",
                        p.name,
                        r.shown()
                    ));
                }
                if result.is_some() == error.is_some() {
                    self.problems.push(format!(
                        "{}: {} has {} a result and an error",
                        p.name,
                        r.shown(),
                        if error.is_some() { "both" } else { "neither" }
                    ));
                }
                if let Some(format) = format
                    && result.is_some()
                    && !p.head.table_facts.contains_key(table)
                    && self.without_facts.insert((*i, table.to_string()))
                {
                    self.problems.push(format!(
                        "{}: read files of table {table} without its {format} metadata",
                        p.name
                    ));
                }
                self.advance(*i);
                for &j in &more {
                    self.advance(j);
                }
                match (result, error) {
                    (Some(r), _) => Ok(r),
                    (None, Some(e)) => Err(e),
                    (None, None) => Err("no result".into()),
                }
            }
        };
        Some((std::borrow::Cow::Owned(planned.into_object()), result))
    }

    /// After the plan: every part read to its end (its authentication checked), and the
    /// report if nothing is wrong.
    fn finish(
        mut self,
        mut report: ScanReport,
        labeler: &SubjectLabeler,
    ) -> Result<ScanReport, Vec<String>> {
        for i in 0..self.parts.len() {
            let mut after = 0u64;
            let first = self.parts[i].next.as_ref().map(|f| f.record.shown());
            while self.parts[i].next.is_some() {
                after += 1;
                self.advance(i);
            }
            if let Some(file) = first {
                self.parts[i].stuck = Some((file, after - 1));
            }
        }
        let unsealed: Vec<String> = self
            .parts
            .iter()
            .filter_map(|p| p.unsealed.as_ref().map(|e| format!("{}: {e}", p.name)))
            .collect();
        if !unsealed.is_empty() {
            return Err(unsealed);
        }
        if let Some(e) = self.plan_error.take() {
            self.problems.push(e);
        }
        let mut stuck = false;
        for p in &self.parts {
            if p.planless_files {
                self.problems.push(format!(
                    "{}: covers files but names no plan (made from another plan)",
                    p.name
                ));
            }
            if let Some((file, after)) = &p.stuck {
                stuck = true;
                self.problems.push(format!(
                    "{}: covers {file}, which the plan does not list, lists before the \
                     part's previous file, or the part lists twice ({after} more file(s) after \
                     it not merged): a part lists its files in the plan's order",
                    p.name
                ));
            }
        }
        if self.missing > 0 {
            self.problems.push(format!(
                "{} file(s) of the plan are in no part{}: {}{}",
                self.missing,
                if stuck {
                    " where the plan lists them"
                } else {
                    " (a shard missing?)"
                },
                self.missing_shown.join(", "),
                if self.missing > 5 { ", …" } else { "" }
            ));
        }
        if !self.problems.is_empty() {
            return Err(self.problems.into_lines());
        }
        report.seal(labeler);
        Ok(report)
    }
}

/// What the parts disagree on among themselves or with the plan (layout, plan, lake,
/// subjects, labels, holds, options, index), one line each.
fn agreement(
    header: &crate::domain::plan::PlanHeader,
    parts: &[Part<'_>],
    problems: &mut Problems,
) {
    let fp = &header.fingerprint;
    let first = &parts[0];
    for p in parts {
        let (name, h) = (&p.name, &p.head);
        if h.vouch_partial != 1 {
            problems.push(format!(
                "{name}: partial report layout {} is not supported",
                h.vouch_partial
            ));
            continue;
        }
        // An empty part carries no plan of its own files; it still names the lake.
        if &h.plan != fp && !h.plan.is_empty() {
            problems.push(format!(
                "{name}: made from another plan ({}…, the plan given is {}…)",
                short(&h.plan),
                short(fp)
            ));
        }
        if h.lake != header.lake {
            problems.push(format!(
                "{name}: scanned the lake {}, the plan is of {}",
                h.lake, header.lake
            ));
        }
        let f = &first.head;
        let agree = [
            (
                "subject list",
                h.subjects_fingerprint == f.subjects_fingerprint && h.subjects == f.subjects,
            ),
            ("subject labels", h.subject_labels == f.subject_labels),
            ("legal holds", h.legal_holds == f.legal_holds),
            ("scan options", h.options == f.options),
            ("subject index", h.index == f.index),
        ];
        for (what, same) in agree {
            if !same {
                problems.push(format!(
                    "{name}: another {what} than {} (parts of one scan must agree)",
                    first.name
                ));
            }
        }
    }
    if first.head.subjects_fingerprint.is_none() {
        problems.push(
            "the parts carry no subject-list fingerprint (scanned without a subject key): \
             merge cannot tell they checked the same subjects"
                .into(),
        );
    }
}

/// Per table of the plan: its format's facts, from the parts that read its files. Parts
/// must agree on everything but the places of their own files, and read the version the
/// plan lists. (A part that read a file of the table without them is found file by file.)
fn merged_facts(
    tables: &[crate::domain::plan::PlanTable],
    parts: &[Part<'_>],
    problems: &mut Problems,
) -> Vec<Option<TableFacts>> {
    let mut out = Vec::with_capacity(tables.len());
    for t in tables {
        let mut merged: Option<(&str, TableFacts)> = None;
        for p in parts {
            let Some(f) = p.head.table_facts.get(&t.table) else {
                continue;
            };
            let name = p.name.as_str();
            if t.format.as_deref() != Some(f.format.as_str()) || t.table_version != Some(f.version)
            {
                problems.push(format!(
                    "{name}: read table {} as {} version {}, the plan has {}",
                    t.table,
                    f.format,
                    f.version,
                    match (&t.format, t.table_version) {
                        (Some(pf), Some(pv)) => format!("{pf} version {pv}"),
                        _ => "no table format".into(),
                    }
                ));
                continue;
            }
            match &mut merged {
                None => merged = Some((name, f.clone())),
                Some((first, m)) => {
                    if !m.same_table(f) {
                        problems.push(format!(
                            "{name}: another reading of table {}'s metadata than {first} \
                             (parts of one scan must agree)",
                            t.table
                        ));
                    }
                    m.places.extend(f.places.iter().cloned());
                }
            }
        }
        out.push(merged.map(|(_, f)| f));
    }
    out
}

/// What of a part comes after its files.
#[derive(Default, serde::Deserialize)]
struct Tail {
    #[serde(default)]
    table_facts: BTreeMap<String, TableFacts>,
    #[serde(default)]
    authentication: Option<String>,
}

/// A part's JSON read as a stream: the fields before `files` (the head), then each entry
/// of `files` as raw bytes, then the fields after it. Values are cut out by their
/// brackets and strings and parsed by serde_json, which checks them.
pub(crate) struct PartJson<R> {
    input: R,
    value: Vec<u8>,
    /// The head's fields as read, without the white space between them.
    head: Vec<u8>,
    /// White space was found between tokens (not as vouch writes a part).
    spaced: bool,
    tail: Vec<u8>,
    /// Read past `files`' last entry.
    ended: bool,
    first: bool,
}

impl<R: BufRead> PartJson<R> {
    pub(crate) fn new(input: R) -> PartJson<R> {
        PartJson {
            input,
            value: Vec::with_capacity(1024),
            head: Vec::with_capacity(1024),
            spaced: false,
            tail: Vec::new(),
            ended: false,
            first: true,
        }
    }

    fn io(e: std::io::Error) -> String {
        crate::io::store::io_message(&e)
    }

    /// The next byte that is not white space, not taken; None at the end.
    fn peek(&mut self) -> Result<Option<u8>, String> {
        loop {
            let buf = self.input.fill_buf().map_err(Self::io)?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|c| !c.is_ascii_whitespace()) {
                Some(i) => {
                    let c = buf[i];
                    self.spaced |= i > 0;
                    self.input.consume(i);
                    return Ok(Some(c));
                }
                None => {
                    let n = buf.len();
                    self.spaced = true;
                    self.input.consume(n);
                }
            }
        }
    }

    fn expect(&mut self, want: u8) -> Result<(), String> {
        match self.peek()? {
            Some(c) if c == want => {
                self.input.consume(1);
                Ok(())
            }
            Some(c) => Err(format!(
                "not a vouch partial report: {:?} where {:?} was expected",
                c as char, want as char
            )),
            None => Err("not a vouch partial report: it ends early (cut?)".into()),
        }
    }

    /// One JSON value's bytes into `self.value` (replacing what was there).
    fn read_value(&mut self) -> Result<(), String> {
        self.value.clear();
        let Some(start) = self.peek()? else {
            return Err("not a vouch partial report: it ends early (cut?)".into());
        };
        let mut cut = Cut::new(start);
        loop {
            let buf = self.input.fill_buf().map_err(Self::io)?;
            if buf.is_empty() {
                if cut.scalar && !self.value.is_empty() {
                    return Ok(());
                }
                return Err("not a vouch partial report: it ends early (cut?)".into());
            }
            let end = cut.scan(buf);
            let take = end.unwrap_or(buf.len());
            if self.value.len() + take > MAX_VALUE {
                return Err(format!(
                    "not a vouch partial report: a value longer than {} MiB",
                    MAX_VALUE >> 20
                ));
            }
            self.value.extend_from_slice(&buf[..take]);
            self.input.consume(take);
            if end.is_some() {
                return Ok(());
            }
        }
    }

    /// Reads up to the first entry of `files`: the part's head, or None when its fields
    /// are not in the order vouch writes them (a field the head needs comes after the
    /// files, or there are none) and it must be read whole.
    fn head(&mut self) -> Result<Option<PartialReport>, String> {
        self.expect(b'{')?;
        self.head.clear();
        self.head.push(b'{');
        loop {
            match self.peek()? {
                Some(b'}') | None => return Ok(None),
                Some(_) => {}
            }
            self.read_value()?;
            let key: String = serde_json::from_slice(&self.value)
                .map_err(|e| format!("not a vouch partial report: {e}"))?;
            let key_bytes = std::mem::take(&mut self.value);
            self.expect(b':')?;
            if key == "files" {
                self.expect(b'[')?;
                if self.head.len() > 1 {
                    self.head.push(b',');
                }
                self.head.extend_from_slice(br#""files":[]}"#);
                self.value = key_bytes;
                return Ok(serde_json::from_slice(&self.head).ok());
            }
            self.read_value()?;
            if self.head.len() + self.value.len() > MAX_VALUE {
                return Err(format!(
                    "not a vouch partial report: more than {} MiB before its files",
                    MAX_VALUE >> 20
                ));
            }
            if self.head.len() > 1 {
                self.head.push(b',');
            }
            self.head.extend_from_slice(&key_bytes);
            self.head.push(b':');
            self.head.extend_from_slice(&self.value);
            self.value = key_bytes;
            match self.peek()? {
                Some(b',') => self.input.consume(1),
                _ => return Ok(None),
            }
        }
    }

    /// `take` of the raw bytes of the next entry of `files`; None after the last. An entry
    /// within the read buffer is given from there, not copied.
    fn next_file_with<T>(&mut self, take: impl FnOnce(&[u8]) -> T) -> Result<Option<T>, String> {
        if self.ended {
            return Ok(None);
        }
        match self.peek()? {
            Some(b']') => {
                self.input.consume(1);
                self.ended = true;
                return Ok(None);
            }
            Some(b',') if !self.first => self.input.consume(1),
            _ if self.first => {}
            _ => return Err("not a vouch partial report: its files are not a list".into()),
        }
        self.first = false;
        if let Some(start) = self.peek()? {
            let buf = self.input.fill_buf().map_err(Self::io)?;
            if let Some(end) = Cut::new(start).scan(buf) {
                let out = take(&buf[..end]);
                self.input.consume(end);
                return Ok(Some(out));
            }
        }
        self.read_value()?;
        Ok(Some(take(&self.value)))
    }

    /// After the files: the fields that follow, to the end of the part.
    fn tail(&mut self) -> Result<Tail, String> {
        self.tail.clear();
        self.tail.push(b'{');
        loop {
            match self.peek()? {
                Some(b'}') => {
                    self.input.consume(1);
                    break;
                }
                Some(b',') => {
                    self.input.consume(1);
                    self.read_value()?;
                    if self.tail.len() > 1 {
                        self.tail.push(b',');
                    }
                    self.tail.extend_from_slice(&self.value);
                    self.expect(b':')?;
                    self.read_value()?;
                    if self.tail.len() + self.value.len() > MAX_VALUE {
                        return Err(format!(
                            "not a vouch partial report: more than {} MiB after its files",
                            MAX_VALUE >> 20
                        ));
                    }
                    self.tail.push(b':');
                    self.tail.extend_from_slice(&self.value);
                }
                _ => return Err("not a vouch partial report: it ends early (cut?)".into()),
            }
        }
        if self.peek()?.is_some() {
            return Err("not a vouch partial report: something follows it".into());
        }
        self.tail.push(b'}');
        serde_json::from_slice(&self.tail).map_err(|e| format!("not a vouch partial report: {e}"))
    }
}

/// Where a JSON value ends, found across the buffers it is read in: by its brackets and
/// strings (a scalar ends at a delimiter).
struct Cut {
    scalar: bool,
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Cut {
    /// A value starting with byte `start`.
    fn new(start: u8) -> Cut {
        Cut {
            scalar: !matches!(start, b'{' | b'[' | b'"'),
            depth: 0,
            in_string: false,
            escaped: false,
        }
    }

    /// The value's end in `buf` (the bytes after those scanned before), or None when it
    /// goes on past it.
    fn scan(&mut self, buf: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < buf.len() {
            let c = buf[i];
            if self.scalar {
                if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                    return Some(i);
                }
                i += 1;
                continue;
            }
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // Most of a part's bytes are in strings (paths, digests): skip to the next
                // quote or backslash.
                match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                    None => return None,
                    Some(at) => i += at,
                }
                if buf[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                i += 1;
                continue;
            }
            i += 1;
            match c {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::{FileRecord, Plan};
    use crate::domain::shard::PartialFile;

    /// A plan of one table whose file names hold JSON's own delimiters and escapes, and
    /// two sealed parts of it (alternate files, in the plan's order).
    fn plan_and_parts(labeler: &SubjectLabeler) -> (Vec<u8>, Vec<PartialReport>) {
        let names = ["a\"b", "c'd\u{1}", "e]}f,", "g{[h", "ü ñ\t", "x"];
        let files = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                FileRecord {
                    table: "t".into(),
                    file: format!("t/{n}.parquet"),
                    size: 10 + i as u64,
                    modified: Some(1_700_000_000),
                    etag: None,
                    version_id: None,
                    noncurrent: false,
                    stat: None,
                }
                .into_object()
            })
            .collect();
        let table = crate::domain::plan::PlanTable {
            table: "t".into(),
            path: "t".into(),
            id_columns: vec!["user_id".into()],
            errors: vec![],
            aliases: vec![],
            format: None,
            table_version: None,
            locations: vec![],
        };
        let listed = vec![table.listed(files)];
        let plan = Plan::of("/lake", &listed, &[]);
        let part = |k: usize| {
            let files: Vec<PartialFile> = plan
                .files
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == k)
                .map(|(i, f)| PartialFile {
                    record: FileRecord { ..f.record.clone() },
                    result: Some(FileResult {
                        rows: 5,
                        matching_rows: (i == 2) as u64,
                        subjects: if i == 2 {
                            vec![(labeler.label("u\"1"), 1)]
                        } else {
                            vec![]
                        },
                        footer_sha256: format!("{i:064}"),
                        ..FileResult::default()
                    }),
                    error: None,
                })
                .collect();
            let fingerprint = labeler
                .list_fingerprint(&crate::domain::subjects::SubjectList::of(["u\"1"]).unwrap());
            let mut p =
                crate::domain::shard::test_part(&plan.header.fingerprint, fingerprint, files);
            p.authentication = labeler.authenticate("partial report", &p.authenticated_bytes());
            p
        };
        (plan.to_jsonl(), vec![part(0), part(1)])
    }

    fn merge_bytes(
        plan: &[u8],
        parts: &[Vec<u8>],
        labeler: &SubjectLabeler,
        buffer: usize,
    ) -> Result<ScanReport, Vec<String>> {
        let inputs = parts
            .iter()
            .enumerate()
            .map(|(k, bytes)| {
                let bytes = bytes.clone();
                PartInput {
                    name: format!("part-{k}"),
                    open: Box::new(move || -> std::io::Result<Box<dyn BufRead + Send>> {
                        let r = std::io::Cursor::new(bytes.clone());
                        Ok(Box::new(std::io::BufReader::with_capacity(buffer, r)))
                    }),
                }
            })
            .collect();
        let plan = std::io::BufReader::with_capacity(buffer, plan);
        merge(plan, "plan", inputs, labeler, None)
    }

    #[test]
    fn entries_cut_across_buffers_with_delimiters_in_strings_merge_the_same() {
        let labeler = SubjectLabeler::keyed(b"merge-stream-test-key").unwrap();
        let (plan, parts) = plan_and_parts(&labeler);
        let compact: Vec<Vec<u8>> = parts
            .iter()
            .map(|p| serde_json::to_vec(p).unwrap())
            .collect();
        let reference = merge_bytes(&plan, &compact, &labeler, 1 << 16).unwrap();
        assert_eq!(reference.files_scanned, 6);
        assert_eq!(reference.residual_rows, 1);
        assert_eq!(reference.residuals[0].file, "t/e]}f,.parquet");
        // Every entry cut at every place a buffer can end; and parts indented by another
        // tool (read whole): the same report.
        for buffer in [1, 2, 3, 7, 64] {
            let r = merge_bytes(&plan, &compact, &labeler, buffer).unwrap();
            assert_eq!(r, reference, "buffer of {buffer} bytes");
        }
        let pretty: Vec<Vec<u8>> = parts
            .iter()
            .map(|p| serde_json::to_vec_pretty(p).unwrap())
            .collect();
        assert_eq!(merge_bytes(&plan, &pretty, &labeler, 5).unwrap(), reference);
        // One byte changed inside a string of an entry: not authentic, whatever the cut.
        let mut edited = compact.clone();
        let at = edited[0]
            .windows(4)
            .position(|w| w == b"e]}f")
            .expect("the name is in part 0");
        edited[0][at] = b'E';
        for buffer in [1, 3, 1 << 16] {
            let e = merge_bytes(&plan, &edited, &labeler, buffer).unwrap_err();
            assert!(
                e[0].starts_with("part-0: its authentication does not match"),
                "{e:?}"
            );
        }
    }
}
