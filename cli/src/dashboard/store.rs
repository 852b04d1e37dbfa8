//! The dashboard's telemetry, in one SQLite file (`.msctl/dashboard.sqlite` beside the stack
//! file), so it survives a restart of the dashboard.
//!
//! Memory stays bounded whatever arrives: spans, log lines and metric points live in SQLite,
//! not in the process, and each table has a cap; past it the oldest rows go, a counter of what
//! went is kept, and the pages say "limit reached". One thread writes (the receiver hands it
//! batches over a channel and never waits for the disk); pages read through their own
//! connections (WAL mode: readers never block the writer).

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Rows kept per table before the oldest are dropped.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub spans: u64,
    pub logs: u64,
    pub points: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            spans: 50_000,
            logs: 50_000,
            points: 100_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpanRow {
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_id: String,
    pub service: String,
    pub name: String,
    pub kind: String,
    pub start_ns: i64,
    pub end_ns: i64,
    /// `error`, `ok` or `unset`.
    pub status: String,
    pub status_message: String,
    /// Attribute name → value as text.
    pub attributes: BTreeMap<String, String>,
    pub events: Vec<SpanEvent>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct SpanEvent {
    pub name: String,
    pub time_ns: i64,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogRow {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub time_ns: i64,
    pub service: String,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE`, or empty when the line says nothing.
    pub level: String,
    pub message: String,
    /// Empty when the line belongs to no trace.
    pub trace_id: String,
    /// Structured fields other than the message and the level (kit's JSON lines), as text.
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PointRow {
    pub time_ms: i64,
    pub service: String,
    /// What the value is of: a route (`GET /products`) or a metric's name.
    pub series: String,
    /// `rps`, `errors` (share of 5xx, 0–1), `p50`, `p95` (seconds), or `value`.
    pub metric: String,
    pub value: f64,
}

/// One line of the trace list.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    pub trace_id: String,
    pub root_name: String,
    pub root_service: String,
    pub services: Vec<String>,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub spans: i64,
    pub errors: i64,
}

#[derive(Debug, Clone, Default)]
pub struct TraceFilter {
    pub service: Option<String>,
    /// `error` or `ok`.
    pub status: Option<String>,
    pub min_duration_ms: Option<f64>,
    /// `key=value` or text found in any span's attributes.
    pub attribute: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub service: Option<String>,
    pub level: Option<String>,
    pub text: Option<String>,
    pub trace_id: Option<String>,
    pub limit: usize,
}

impl LogFilter {
    /// Whether a line passes (the live stream filters with this; queries do the same in SQL).
    pub fn matches(&self, row: &LogRow) -> bool {
        self.service.as_ref().is_none_or(|s| &row.service == s)
            && self
                .level
                .as_ref()
                .is_none_or(|l| level_rank(&row.level) >= level_rank(l))
            && self.trace_id.as_ref().is_none_or(|t| &row.trace_id == t)
            && self.text.as_ref().is_none_or(|t| {
                let t = t.to_lowercase();
                row.message.to_lowercase().contains(&t)
                    || row.fields.values().any(|v| v.to_lowercase().contains(&t))
            })
    }
}

/// ERROR 4, WARN 3, INFO 2, DEBUG 1, anything else 0: "level ≥ WARN" keeps WARN and ERROR.
pub fn level_rank(level: &str) -> u8 {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" | "FATAL" => 4,
        "WARN" | "WARNING" => 3,
        "INFO" => 2,
        "DEBUG" => 1,
        _ => 0,
    }
}

/// How full each table is, and how much was dropped to keep it there.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fill {
    pub spans: u64,
    pub logs: u64,
    pub points: u64,
    pub dropped_spans: u64,
    pub dropped_logs: u64,
    pub dropped_points: u64,
}

impl Fill {
    pub fn limit_reached(&self) -> bool {
        self.dropped_spans + self.dropped_logs + self.dropped_points > 0
    }
}

/// What the writer thread is handed.
pub enum Write {
    Spans(Vec<SpanRow>),
    Logs(Vec<LogRow>),
    Points(Vec<PointRow>),
    /// Answered once everything sent before it is written (tests, the benchmark).
    Flush(std::sync::mpsc::Sender<()>),
}

impl Write {
    fn rows(&self) -> u64 {
        match self {
            Write::Spans(r) => r.len() as u64,
            Write::Logs(r) => r.len() as u64,
            Write::Points(r) => r.len() as u64,
            Write::Flush(_) => 0,
        }
    }
}

/// Counters the writer keeps and pages read without touching the disk.
#[derive(Default)]
struct Counters {
    spans: AtomicU64,
    logs: AtomicU64,
    points: AtomicU64,
    dropped_spans: AtomicU64,
    dropped_logs: AtomicU64,
    dropped_points: AtomicU64,
    /// Rows handed to the writer and not written yet.
    queued: AtomicU64,
}

#[derive(Clone)]
pub struct Store {
    services: Arc<std::sync::Mutex<BTreeSet<String>>>,
    path: PathBuf,
    tx: std::sync::mpsc::Sender<Write>,
    counters: Arc<Counters>,
    pub limits: Limits,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS spans (
    id INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT NOT NULL,
    attributes TEXT NOT NULL,
    events TEXT NOT NULL
);
-- An exporter that retries sends a span twice: it is kept once.
CREATE UNIQUE INDEX IF NOT EXISTS spans_id ON spans (trace_id, span_id);
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY,
    root_name TEXT NOT NULL,
    root_service TEXT NOT NULL,
    services TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    spans INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    last_span INTEGER NOT NULL,
    -- Whether the root span (no parent) has arrived; until it has, the earliest span names it.
    has_root INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_ns);
CREATE INDEX IF NOT EXISTS traces_last ON traces (last_span);
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY,
    time_ns INTEGER NOT NULL,
    service TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id) WHERE trace_id != '';
CREATE TABLE IF NOT EXISTS points (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    service TEXT NOT NULL,
    series TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS points_time ON points (time_ms);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
";

/// Rows waiting for the writer, at most: about half a second of its work. Past it the OTLP
/// receiver answers 503 with Retry-After (the exporter sends again later) and the engine's log
/// follower waits, so memory is bounded by this and not by what arrives (a flood of 600,000
/// spans once took 728 MiB with a queue counted in batches).
pub const MAX_QUEUED_ROWS: u64 = 20_000;

/// Rows written in one transaction, at most.
const MAX_TRANSACTION_ROWS: u64 = 20_000;

/// The layout [`SCHEMA`] creates; a file with another is not read (it is kept aside).
const SCHEMA_VERSION: i64 = 2;

/// Creates the tables in a new file, or checks an existing file's layout.
fn prepare(conn: Connection) -> Result<Connection, String> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if tables > 0 && version != SCHEMA_VERSION {
        return Err(format!(
            "its layout is version {version}, this msctl's is {SCHEMA_VERSION}"
        ));
    }
    conn.execute_batch(SCHEMA).map_err(|e| e.to_string())?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // The file is a cache of telemetry: losing the last second of it in a power cut is fine,
    // an fsync per batch is not (it halves the ingest rate).
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

impl Store {
    /// Opens (or creates) the file and starts the writer thread.
    pub fn open(path: &Path, limits: Limits) -> Result<Store, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let conn = match open(path).map_err(|e| e.to_string()).and_then(prepare) {
            Ok(conn) => conn,
            // A file this version cannot use (another schema, damaged): kept aside, not lost,
            // and the dashboard starts on a new one.
            Err(e) if path.exists() => {
                let aside = path.with_extension(format!("sqlite.unusable-{}", super::now_ms()));
                std::fs::rename(path, &aside)
                    .map_err(|r| format!("{}: {e}; {r}", path.display()))?;
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
                eprintln!(
                    "msctl dashboard: {} could not be used ({e}); moved to {} and starting empty",
                    path.display(),
                    aside.display()
                );
                open(path)
                    .map_err(|e| e.to_string())
                    .and_then(prepare)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let counters = Arc::new(Counters::default());
        let count = |table: &str| -> u64 {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_or(0) as u64
        };
        let meta = |key: &str| -> u64 {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .ok()
            .flatten()
            .unwrap_or(0) as u64
        };
        counters.spans.store(count("spans"), Ordering::Relaxed);
        counters.logs.store(count("logs"), Ordering::Relaxed);
        counters.points.store(count("points"), Ordering::Relaxed);
        counters
            .dropped_spans
            .store(meta("dropped_spans"), Ordering::Relaxed);
        counters
            .dropped_logs
            .store(meta("dropped_logs"), Ordering::Relaxed);
        counters
            .dropped_points
            .store(meta("dropped_points"), Ordering::Relaxed);
        let services: BTreeSet<String> = {
            let mut stmt = conn
                .prepare(
                    "SELECT DISTINCT service FROM logs UNION SELECT DISTINCT service FROM spans",
                )
                .map_err(|e| e.to_string())?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(|e| e.to_string())?;
            rows.filter_map(|r| r.ok())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let services = Arc::new(std::sync::Mutex::new(services));
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = Writer {
            conn,
            limits,
            counters: counters.clone(),
            services: services.clone(),
        };
        std::thread::Builder::new()
            .name("dashboard-store".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| e.to_string())?;
        Ok(Store {
            path: path.to_path_buf(),
            tx,
            counters,
            limits,
            services,
        })
    }

    /// Hands rows to the writer, or gives them back when [`MAX_QUEUED_ROWS`] are waiting.
    pub fn try_send(&self, write: Write) -> Result<(), Write> {
        let rows = write.rows();
        let queued = self.counters.queued.fetch_add(rows, Ordering::AcqRel);
        if rows > 0 && queued > 0 && queued + rows > MAX_QUEUED_ROWS {
            self.counters.queued.fetch_sub(rows, Ordering::AcqRel);
            return Err(write);
        }
        let _ = self.tx.send(write);
        Ok(())
    }

    /// Hands rows to the writer, waiting while it is [`MAX_QUEUED_ROWS`] behind (for senders
    /// that cannot be told to come back later: the engine's log stream, the scraper).
    pub fn send(&self, mut write: Write) {
        loop {
            match self.try_send(write) {
                Ok(()) => return,
                Err(back) => {
                    write = back;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
    }

    /// The services seen so far (in spans or log lines), for the pages' filters.
    pub fn services(&self) -> Vec<String> {
        self.services
            .lock()
            .expect("lock")
            .iter()
            .cloned()
            .collect()
    }

    /// Waits until everything sent so far is in the file.
    pub fn flush(&self) {
        let (tx, rx) = std::sync::mpsc::channel();
        self.send(Write::Flush(tx));
        let _ = rx.recv();
    }

    pub fn fill(&self) -> Fill {
        let c = &self.counters;
        Fill {
            spans: c.spans.load(Ordering::Relaxed),
            logs: c.logs.load(Ordering::Relaxed),
            points: c.points.load(Ordering::Relaxed),
            dropped_spans: c.dropped_spans.load(Ordering::Relaxed),
            dropped_logs: c.dropped_logs.load(Ordering::Relaxed),
            dropped_points: c.dropped_points.load(Ordering::Relaxed),
        }
    }

    /// A read connection (pages open one each: cheap, and no lock between readers).
    pub fn reader(&self) -> Result<Reader, String> {
        open(&self.path)
            .map(|conn| Reader { conn })
            .map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

struct Writer {
    conn: Connection,
    limits: Limits,
    counters: Arc<Counters>,
    services: Arc<std::sync::Mutex<BTreeSet<String>>>,
}

impl Writer {
    fn run(mut self, rx: std::sync::mpsc::Receiver<Write>) {
        while let Ok(first) = rx.recv() {
            // Everything already queued goes in the same transaction: under load a batch per
            // request would be a commit per request.
            let mut rows = first.rows();
            let mut batch = vec![first];
            while rows < MAX_TRANSACTION_ROWS {
                match rx.try_recv() {
                    Ok(w) => {
                        rows += w.rows();
                        batch.push(w);
                    }
                    Err(_) => break,
                }
            }
            let mut seen = BTreeSet::new();
            for w in &batch {
                match w {
                    Write::Spans(r) => seen.extend(r.iter().map(|s| &s.service)),
                    Write::Logs(r) => seen.extend(r.iter().map(|l| &l.service)),
                    _ => {}
                }
            }
            {
                let mut known = self.services.lock().expect("lock");
                for s in seen {
                    if !known.contains(s) {
                        known.insert(s.clone());
                    }
                }
            }
            let mut flushes = Vec::new();
            if let Err(e) = self.write(batch, &mut flushes) {
                eprintln!("msctl dashboard: writing telemetry failed: {e}");
            }
            self.counters.queued.fetch_sub(rows, Ordering::AcqRel);
            for f in flushes {
                let _ = f.send(());
            }
        }
    }

    fn write(
        &mut self,
        batch: Vec<Write>,
        flushes: &mut Vec<std::sync::mpsc::Sender<()>>,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let (mut spans, mut logs, mut points) = (0u64, 0u64, 0u64);
        for w in batch {
            match w {
                Write::Spans(rows) => spans += insert_spans(&tx, &rows)?,
                Write::Logs(rows) => logs += insert_logs(&tx, &rows)?,
                Write::Points(rows) => points += insert_points(&tx, &rows)?,
                Write::Flush(f) => flushes.push(f),
            }
        }
        let c = self.counters.clone();
        prune(
            &tx,
            "spans",
            self.limits.spans,
            &c.spans,
            &c.dropped_spans,
            spans,
        )?;
        prune(
            &tx,
            "logs",
            self.limits.logs,
            &c.logs,
            &c.dropped_logs,
            logs,
        )?;
        prune(
            &tx,
            "points",
            self.limits.points,
            &c.points,
            &c.dropped_points,
            points,
        )?;
        tx.commit()
    }
}

/// Drops the oldest rows of `table` past `cap` (with 10 % slack, so pruning is one statement
/// per many batches), counting what went.
fn prune(
    tx: &rusqlite::Transaction,
    table: &str,
    cap: u64,
    count: &AtomicU64,
    dropped: &AtomicU64,
    added: u64,
) -> rusqlite::Result<()> {
    let now = count.fetch_add(added, Ordering::Relaxed) + added;
    if now <= cap + cap / 10 {
        return Ok(());
    }
    let excess = now - cap;
    let cutoff: Option<i64> = tx
        .query_row(
            &format!("SELECT id FROM {table} ORDER BY id LIMIT 1 OFFSET ?1"),
            [excess as i64],
            |r| r.get(0),
        )
        .optional()?;
    let Some(cutoff) = cutoff else {
        return Ok(());
    };
    let removed = if table == "spans" {
        // Whole traces go: a trace cut in half would list more spans than its waterfall shows.
        tx.execute(
            "CREATE TEMP TABLE IF NOT EXISTS gone (trace_id TEXT PRIMARY KEY)",
            [],
        )?;
        tx.execute("DELETE FROM gone", [])?;
        tx.execute(
            "INSERT OR IGNORE INTO gone SELECT trace_id FROM spans WHERE id < ?1",
            [cutoff],
        )?;
        let n = tx.execute(
            "DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM gone)",
            [],
        )?;
        tx.execute(
            "DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM gone)",
            [],
        )?;
        n as u64
    } else {
        tx.execute(&format!("DELETE FROM {table} WHERE id < ?1"), [cutoff])? as u64
    };
    count.fetch_sub(removed, Ordering::Relaxed);
    let total = dropped.fetch_add(removed, Ordering::Relaxed) + removed;
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![format!("dropped_{table}"), total as i64],
    )?;
    Ok(())
}

fn insert_spans(tx: &rusqlite::Transaction, rows: &[SpanRow]) -> rusqlite::Result<u64> {
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO spans (trace_id, span_id, parent_id, service, name, kind, start_ns, end_ns,
                            status, status_message, attributes, events)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    // Per trace: what this batch adds to its summary line.
    let mut traces: HashMap<&str, TraceDelta> = HashMap::new();
    let mut inserted = 0;
    for s in rows {
        let added = insert.execute(params![
            s.trace_id,
            s.span_id,
            s.parent_id,
            s.service,
            s.name,
            s.kind,
            s.start_ns,
            s.end_ns,
            s.status,
            s.status_message,
            serde_json::to_string(&s.attributes).unwrap_or_default(),
            serde_json::to_string(&s.events).unwrap_or_default(),
        ])?;
        if added == 0 {
            continue;
        }
        inserted += 1;
        let id = tx.last_insert_rowid();
        let d = traces.entry(&s.trace_id).or_default();
        d.add(s, id);
    }
    for (trace_id, d) in traces {
        let old: Option<(String, String, String, bool, i64)> = tx
            .prepare_cached(
                "SELECT services, root_name, root_service, has_root, start_ns FROM traces
                 WHERE trace_id = ?1",
            )?
            .query_row([trace_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let mut services: BTreeSet<String> = d.services;
        let (mut root_name, mut root_service, mut has_root) =
            (d.root_name, d.root_service, d.has_root);
        if let Some((old_services, old_name, old_service, old_root, old_start)) = old {
            services.extend(
                old_services
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
            // The root names the trace; without one yet, the earliest span so far does.
            let keep_old = !has_root && (old_root || old_start <= d.start_ns);
            if keep_old {
                (root_name, root_service, has_root) = (old_name, old_service, old_root);
            }
        }
        let services = format!(",{},", services.into_iter().collect::<Vec<_>>().join(","));
        tx.prepare_cached(
            "INSERT INTO traces (trace_id, root_name, root_service, services, start_ns, end_ns,
                                 spans, errors, last_span, has_root)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (trace_id) DO UPDATE SET
                root_name = excluded.root_name, root_service = excluded.root_service,
                services = excluded.services, has_root = excluded.has_root,
                start_ns = min(start_ns, excluded.start_ns), end_ns = max(end_ns, excluded.end_ns),
                spans = spans + excluded.spans, errors = errors + excluded.errors,
                last_span = excluded.last_span",
        )?
        .execute(params![
            trace_id,
            root_name,
            root_service,
            services,
            d.start_ns,
            d.end_ns,
            d.spans,
            d.errors,
            d.last_span,
            has_root
        ])?;
    }
    Ok(inserted)
}

#[derive(Default)]
struct TraceDelta {
    services: BTreeSet<String>,
    root_name: String,
    root_service: String,
    has_root: bool,
    earliest: Option<i64>,
    start_ns: i64,
    end_ns: i64,
    spans: i64,
    errors: i64,
    last_span: i64,
}

impl TraceDelta {
    fn add(&mut self, s: &SpanRow, id: i64) {
        self.services.insert(s.service.clone());
        let is_root = s.parent_id.is_empty();
        if is_root || (!self.has_root && self.earliest.is_none_or(|e| s.start_ns < e)) {
            self.root_name = s.name.clone();
            self.root_service = s.service.clone();
            self.has_root |= is_root;
        }
        self.start_ns = match self.earliest {
            Some(e) => e.min(s.start_ns),
            None => s.start_ns,
        };
        self.earliest = Some(self.start_ns);
        self.end_ns = self.end_ns.max(s.end_ns);
        self.spans += 1;
        self.errors += i64::from(s.status == "error");
        self.last_span = id;
    }
}

fn insert_logs(tx: &rusqlite::Transaction, rows: &[LogRow]) -> rusqlite::Result<u64> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO logs (time_ns, service, level, message, trace_id, fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for l in rows {
        insert.execute(params![
            l.time_ns,
            l.service,
            l.level,
            l.message,
            l.trace_id,
            serde_json::to_string(&l.fields).unwrap_or_default()
        ])?;
    }
    Ok(rows.len() as u64)
}

fn insert_points(tx: &rusqlite::Transaction, rows: &[PointRow]) -> rusqlite::Result<u64> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO points (time_ms, service, series, metric, value) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for p in rows {
        insert.execute(params![p.time_ms, p.service, p.series, p.metric, p.value])?;
    }
    Ok(rows.len() as u64)
}

/// Queries for the pages.
pub struct Reader {
    conn: Connection,
}

fn map_json<T: serde::de::DeserializeOwned + Default>(text: String) -> T {
    serde_json::from_str(&text).unwrap_or_default()
}

impl Reader {
    pub fn traces(&self, f: &TraceFilter) -> rusqlite::Result<Vec<TraceSummary>> {
        let mut sql = String::from(
            "SELECT trace_id, root_name, root_service, services, start_ns, end_ns, spans, errors
             FROM traces WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = &f.service {
            args.push(format!("%,{s},%").into());
            sql.push_str(&format!(" AND services LIKE ?{}", args.len()));
        }
        match f.status.as_deref() {
            Some("error") => sql.push_str(" AND errors > 0"),
            Some("ok") => sql.push_str(" AND errors = 0"),
            _ => {}
        }
        if let Some(ms) = f.min_duration_ms {
            args.push(((ms * 1e6) as i64).into());
            sql.push_str(&format!(" AND end_ns - start_ns >= ?{}", args.len()));
        }
        if let Some(a) = &f.attribute {
            // `key=value` matches the JSON text `"key":"value"`; anything else is a substring.
            let needle = match a.split_once('=') {
                Some((k, v)) => format!(
                    "%{}:{}%",
                    serde_json::to_string(k.trim()).unwrap_or_default(),
                    serde_json::to_string(v.trim()).unwrap_or_default()
                ),
                None => format!("%{a}%"),
            };
            args.push(needle.into());
            let n = args.len();
            // Plain text also finds span names ("POST /orders").
            let by_name = if a.contains('=') {
                String::new()
            } else {
                args.push(format!("%{a}%").into());
                format!(" OR name LIKE ?{}", args.len())
            };
            sql.push_str(&format!(
                " AND trace_id IN (SELECT trace_id FROM spans WHERE attributes LIKE ?{n}{by_name})"
            ));
        }
        args.push((f.limit.max(1) as i64).into());
        sql.push_str(&format!(" ORDER BY start_ns DESC LIMIT ?{}", args.len()));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            let services: String = r.get(3)?;
            let (start, end): (i64, i64) = (r.get(4)?, r.get(5)?);
            Ok(TraceSummary {
                trace_id: r.get(0)?,
                root_name: r.get(1)?,
                root_service: r.get(2)?,
                services: services
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                start_ns: start,
                duration_ns: end - start,
                spans: r.get(6)?,
                errors: r.get(7)?,
            })
        })?;
        rows.collect()
    }

    /// Every span of a trace, in start order.
    pub fn trace(&self, trace_id: &str) -> rusqlite::Result<Vec<SpanRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT trace_id, span_id, parent_id, service, name, kind, start_ns, end_ns, status,
                    status_message, attributes, events
             FROM spans WHERE trace_id = ?1 ORDER BY start_ns, id",
        )?;
        let rows = stmt.query_map([trace_id], |r| {
            Ok(SpanRow {
                trace_id: r.get(0)?,
                span_id: r.get(1)?,
                parent_id: r.get(2)?,
                service: r.get(3)?,
                name: r.get(4)?,
                kind: r.get(5)?,
                start_ns: r.get(6)?,
                end_ns: r.get(7)?,
                status: r.get(8)?,
                status_message: r.get(9)?,
                attributes: map_json(r.get(10)?),
                events: map_json(r.get(11)?),
            })
        })?;
        rows.collect()
    }

    /// The newest lines that pass the filter, oldest first.
    pub fn logs(&self, f: &LogFilter) -> rusqlite::Result<Vec<LogRow>> {
        let mut sql = String::from(
            "SELECT id, time_ns, service, level, message, trace_id, fields FROM logs WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(s) = &f.service {
            args.push(s.clone().into());
            sql.push_str(&format!(" AND service = ?{}", args.len()));
        }
        if let Some(t) = &f.trace_id {
            args.push(t.clone().into());
            // `!= ''` lets SQLite use the partial index on trace ids.
            sql.push_str(&format!(
                " AND trace_id = ?{} AND trace_id != ''",
                args.len()
            ));
        }
        if let Some(l) = &f.level {
            let levels: Vec<&str> = ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"]
                .into_iter()
                .filter(|x| level_rank(x) >= level_rank(l))
                .collect();
            sql.push_str(&format!(
                " AND upper(level) IN ({})",
                levels
                    .iter()
                    .map(|x| format!("'{x}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        if let Some(t) = &f.text {
            args.push(format!("%{t}%").into());
            sql.push_str(&format!(
                " AND (message LIKE ?{n} OR fields LIKE ?{n})",
                n = args.len()
            ));
        }
        args.push((f.limit.max(1) as i64).into());
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", args.len()));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(LogRow {
                id: Some(r.get(0)?),
                time_ns: r.get(1)?,
                service: r.get(2)?,
                level: r.get(3)?,
                message: r.get(4)?,
                trace_id: r.get(5)?,
                fields: map_json(r.get(6)?),
            })
        })?;
        let mut out: Vec<LogRow> = rows.collect::<rusqlite::Result<_>>()?;
        out.reverse();
        Ok(out)
    }

    /// Points newer than `since_ms`, oldest first.
    pub fn points(&self, since_ms: i64) -> rusqlite::Result<Vec<PointRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT time_ms, service, series, metric, value FROM points
             WHERE time_ms >= ?1 ORDER BY time_ms, id",
        )?;
        let rows = stmt.query_map([since_ms], |r| {
            Ok(PointRow {
                time_ms: r.get(0)?,
                service: r.get(1)?,
                series: r.get(2)?,
                metric: r.get(3)?,
                value: r.get(4)?,
            })
        })?;
        rows.collect()
    }

    /// Each service's newest ERROR line (time, message), for the Resources page.
    pub fn last_errors(&self) -> rusqlite::Result<HashMap<String, (i64, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT service, time_ns, message FROM logs
             WHERE id IN (SELECT max(id) FROM logs WHERE upper(level) = 'ERROR' GROUP BY service)",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: &str, id: &str, parent: &str, service: &str, start: i64) -> SpanRow {
        SpanRow {
            trace_id: trace.into(),
            span_id: id.into(),
            parent_id: parent.into(),
            service: service.into(),
            name: format!("{service} work"),
            kind: "server".into(),
            start_ns: start,
            end_ns: start + 1_000_000,
            status: if service == "bad" { "error" } else { "unset" }.into(),
            status_message: String::new(),
            attributes: BTreeMap::from([("http.route".into(), "/orders".into())]),
            events: vec![],
        }
    }

    #[test]
    fn a_trace_sent_in_pieces_is_one_line_named_by_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite"), Limits::default()).unwrap();
        store.send(Write::Spans(vec![span("t1", "b", "a", "order", 20)]));
        store.send(Write::Spans(vec![
            span("t1", "a", "", "gateway", 10),
            span("t1", "c", "b", "bad", 30),
        ]));
        // A retried export: kept once.
        store.send(Write::Spans(vec![span("t1", "b", "a", "order", 20)]));
        store.flush();
        let r = store.reader().unwrap();
        let list = r
            .traces(&TraceFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(list.len(), 1);
        let t = &list[0];
        assert_eq!(
            (t.root_name.as_str(), t.spans, t.errors),
            ("gateway work", 3, 1)
        );
        assert_eq!(t.services, ["bad", "gateway", "order"]);
        assert_eq!((t.start_ns, t.duration_ns), (10, 1_000_020));
        let only_errors = TraceFilter {
            status: Some("ok".into()),
            limit: 10,
            ..Default::default()
        };
        assert!(r.traces(&only_errors).unwrap().is_empty());
        let by_attr = TraceFilter {
            attribute: Some("http.route=/orders".into()),
            service: Some("order".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(r.traces(&by_attr).unwrap().len(), 1);
        assert_eq!(r.trace("t1").unwrap().len(), 3);
    }

    #[test]
    fn without_a_root_the_earliest_span_names_the_trace_whatever_the_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite"), Limits::default()).unwrap();
        // A journey's requests: parents the dashboard never gets; services' batches come late.
        store.send(Write::Spans(vec![span("t2", "n", "x", "notification", 50)]));
        store.send(Write::Spans(vec![span("t2", "g", "y", "gateway", 5)]));
        store.send(Write::Spans(vec![span("t2", "o", "g", "order", 7)]));
        store.flush();
        let r = store.reader().unwrap();
        let by_name = TraceFilter {
            attribute: Some("gateway work".into()),
            limit: 10,
            ..Default::default()
        };
        let t = &r.traces(&by_name).unwrap()[0];
        assert_eq!(
            (t.root_name.as_str(), t.root_service.as_str()),
            ("gateway work", "gateway")
        );
    }

    #[test]
    fn past_the_cap_the_oldest_go_and_the_loss_is_counted_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let limits = Limits {
            spans: 100,
            logs: 100,
            points: 100,
        };
        let store = Store::open(&path, limits).unwrap();
        for i in 0..30 {
            let batch = (0..10)
                .map(|j| span(&format!("t{i}"), &format!("s{j}"), "", "svc", i * 100 + j))
                .collect();
            store.send(Write::Spans(batch));
        }
        store.flush();
        let fill = store.fill();
        assert!(fill.spans <= 110, "{fill:?}");
        assert_eq!(fill.spans + fill.dropped_spans, 300);
        assert!(fill.limit_reached());
        let r = store.reader().unwrap();
        let all = TraceFilter {
            limit: 1000,
            ..Default::default()
        };
        let left = r.traces(&all).unwrap();
        assert!(left.iter().all(|t| t.trace_id != "t0"), "oldest trace gone");
        assert!(left.iter().any(|t| t.trace_id == "t29"));
        drop(store);
        // Reopened: the data and the count of what was dropped are still there.
        let again = Store::open(&path, limits).unwrap();
        assert_eq!(again.fill().dropped_spans, fill.dropped_spans);
        assert_eq!(again.fill().spans, fill.spans);
    }

    #[test]
    fn a_file_it_cannot_use_is_kept_aside_and_a_new_one_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        std::fs::write(&path, "not a database, but someone's data all the same").unwrap();
        let store = Store::open(&path, Limits::default()).unwrap();
        store.send(Write::Spans(vec![span("t1", "a", "", "svc", 1)]));
        store.flush();
        assert_eq!(store.fill().spans, 1);
        let aside: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("unusable"))
            .collect();
        assert_eq!(aside.len(), 1);
        assert!(std::fs::read_to_string(aside[0].path())
            .unwrap()
            .contains("someone's data"));
    }

    #[test]
    fn log_filters_by_level_service_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.sqlite"), Limits::default()).unwrap();
        let line = |service: &str, level: &str, message: &str| LogRow {
            id: None,
            time_ns: 1,
            service: service.into(),
            level: level.into(),
            message: message.into(),
            trace_id: String::new(),
            fields: BTreeMap::new(),
        };
        let rows = vec![
            line("a", "INFO", "started"),
            line("a", "ERROR", "payment declined"),
            line("b", "WARN", "slow"),
        ];
        store.send(Write::Logs(rows.clone()));
        store.flush();
        let r = store.reader().unwrap();
        let filter = LogFilter {
            level: Some("WARN".into()),
            limit: 10,
            ..Default::default()
        };
        let got = r.logs(&filter).unwrap();
        assert_eq!(got.len(), 2);
        assert!(rows.iter().filter(|l| filter.matches(l)).count() == 2);
        let filter = LogFilter {
            text: Some("DECLINED".into()),
            service: Some("a".into()),
            limit: 10,
            ..Default::default()
        };
        assert_eq!(r.logs(&filter).unwrap().len(), 1);
        assert_eq!(rows.iter().filter(|l| filter.matches(l)).count(), 1);
    }
}
