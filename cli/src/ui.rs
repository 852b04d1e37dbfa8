//! What users see while msctl works: one progress line per service on a terminal, plain
//! timestamped lines otherwise (CI logs, `up > up.log`), and aligned tables.
//!
//! In plain mode a step prints each phase it is told ([`Step::set`]); long steps whose library
//! reports through the step's bar (cargo naming the crate it compiles, a stand-in build) are
//! watched, and what the bar says is printed when it changed, at most every [`PLAIN_EVERY`], so
//! a log shows that work goes on and how long it has taken.

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often, at most, a plain log gets a line about a step's progress.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// Where plain lines go: stderr, or a test's buffer.
type Sink = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone)]
pub struct Ui {
    multi: MultiProgress,
    live: bool,
    quiet: bool,
    width: usize,
    plain_every: Duration,
    sink: Sink,
}

impl Ui {
    /// Live bars when stderr is a terminal; `quiet` silences progress (for `--json`).
    pub fn new(quiet: bool) -> Ui {
        let live = std::io::stderr().is_terminal() && !quiet;
        let multi = MultiProgress::with_draw_target(if live {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        Ui {
            multi,
            live,
            quiet,
            width: 12,
            plain_every: PLAIN_EVERY,
            sink: Arc::new(|line| eprintln!("{line}")),
        }
    }

    /// Plain lines into `sink`, progress at most every `every` (tests).
    pub fn plain_into(sink: impl Fn(&str) + Send + Sync + 'static, every: Duration) -> Ui {
        Ui {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            live: false,
            quiet: false,
            width: 12,
            plain_every: every,
            sink: Arc::new(sink),
        }
    }

    fn plain(&self) -> bool {
        !self.live && !self.quiet
    }

    /// Aligns step names to the longest of `names`.
    pub fn with_names<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Ui {
        self.width = names.into_iter().map(str::len).max().unwrap_or(12).max(8);
        self
    }

    pub fn step(&self, name: &str, phase: &str) -> Step {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{{spinner:.cyan}} {{prefix:{}.bold}}  {{msg}} {{elapsed:.dim}}",
                self.width
            ))
            .expect("valid template")
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✔"),
        );
        bar.set_prefix(name.to_owned());
        if self.live {
            bar.enable_steady_tick(Duration::from_millis(100));
        }
        let step = Step {
            bar,
            ui: self.clone(),
            plain: Arc::new(Plain {
                sink: self.sink.clone(),
                name: name.to_owned(),
                width: self.width,
                start: Instant::now(),
                printed: Mutex::new(Printed {
                    text: String::new(),
                    at: Instant::now(),
                }),
            }),
        };
        step.set(phase);
        if self.plain() {
            step.watch();
        }
        step
    }

    /// A line that is not a step (a summary, a warning), printed above the bars.
    pub fn line(&self, text: impl AsRef<str>) {
        if self.quiet {
            return;
        }
        if self.live {
            self.multi.suspend(|| eprintln!("{}", text.as_ref()));
        } else {
            (self.sink)(text.as_ref());
        }
    }
}

pub struct Step {
    bar: ProgressBar,
    ui: Ui,
    plain: Arc<Plain>,
}

/// A step's plain lines: `elapsed name  text`, and the last one printed (shared with the
/// watcher, so both never print the same text).
struct Plain {
    sink: Sink,
    name: String,
    width: usize,
    start: Instant,
    printed: Mutex<Printed>,
}

struct Printed {
    text: String,
    at: Instant,
}

impl Plain {
    fn line(&self, text: &str) {
        (self.sink)(&format!(
            "{:>7} {:w$}  {text}",
            elapsed(self.start),
            self.name,
            w = self.width
        ));
    }
}

impl Step {
    pub fn set(&self, phase: &str) {
        // Under the lock, so the watcher never prints a phase that is being printed here.
        let mut printed = self.plain.printed.lock().expect("lock");
        self.bar.set_message(phase.to_owned());
        if self.ui.plain() {
            self.plain.line(phase);
            *printed = Printed {
                text: phase.to_owned(),
                at: Instant::now(),
            };
        }
    }

    /// In plain mode, prints what the bar says when it changed, at most every `plain_every`,
    /// until the step ends: modules that report on the bar (cargo, stand-ins) show in logs.
    fn watch(&self) {
        let (bar, plain, every) = (self.bar.clone(), self.plain.clone(), self.ui.plain_every);
        let tick = (every / 10).clamp(Duration::from_millis(10), Duration::from_millis(250));
        std::thread::spawn(move || loop {
            std::thread::sleep(tick);
            let mut printed = plain.printed.lock().expect("lock");
            if bar.is_finished() {
                return;
            }
            let text = bar.message();
            if text != printed.text && printed.at.elapsed() >= every {
                plain.line(&text);
                *printed = Printed {
                    text,
                    at: Instant::now(),
                };
            }
        });
    }

    /// The underlying bar, for modules that report their own phases.
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    pub fn done(&self, outcome: &str) {
        self.finish(format!("{} {}", style("✔").green(), outcome), outcome);
    }

    pub fn fail(&self, outcome: &str) {
        self.finish(
            format!("{} {}", style("✘").red(), style(outcome).red()),
            outcome,
        );
    }

    fn finish(&self, live: String, plain: &str) {
        if self.ui.live {
            self.bar.set_style(
                ProgressStyle::with_template(&format!(
                    "  {{prefix:{}.bold}}  {{msg}}",
                    self.ui.width
                ))
                .expect("valid template"),
            );
            self.bar
                .finish_with_message(format!("{live} {}", style(elapsed(self.plain.start)).dim()));
        } else {
            // Finished under the lock: the watcher stops and prints nothing after this line.
            let _printed = self.plain.printed.lock().expect("lock");
            self.bar.finish_and_clear();
            if !self.ui.quiet {
                self.plain.line(plain);
            }
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        // Also ends the watcher: a step dropped by an error or Ctrl-C stops printing.
        let _printed = self.plain.printed.lock().expect("lock");
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

pub fn elapsed(since: Instant) -> String {
    format!("{:.1}s", since.elapsed().as_secs_f64())
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(console::measure_text_width(cell));
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            text.push_str(cell);
            if i < last {
                text.push_str(&" ".repeat(w - console::measure_text_width(cell) + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Stdout sent to a file while this lives: libraries that print on stdout (pact's verifier,
/// goose) must not mix their text into msctl's report or `--json`.
pub struct StdoutTo {
    saved: libc::c_int,
}

impl StdoutTo {
    pub fn file(path: &std::path::Path) -> Result<StdoutTo, crate::Error> {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(crate::Error::io(format!("creating {}", dir.display())))?;
        }
        let file = std::fs::File::create(path)
            .map_err(crate::Error::io(format!("creating {}", path.display())))?;
        let _ = std::io::stdout().flush();
        // SAFETY: dup/dup2 on valid descriptors; the saved one is restored on drop.
        let saved = unsafe { libc::dup(1) };
        if saved < 0 || unsafe { libc::dup2(file.as_raw_fd(), 1) } < 0 {
            return Err(crate::Error::io(format!(
                "sending stdout to {}",
                path.display()
            ))(std::io::Error::last_os_error()));
        }
        Ok(StdoutTo { saved })
    }
}

impl Drop for StdoutTo {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // SAFETY: `saved` is the descriptor dup'ed in `file`.
        unsafe {
            libc::dup2(self.saved, 1);
            libc::close(self.saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(every: Duration) -> (Ui, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let ui = Ui::plain_into(move |l| sink.lock().unwrap().push(l.to_owned()), every);
        (ui, lines)
    }

    /// `up > up.log` once showed `cargo build` and then nothing for minutes: what cargo reports
    /// on the bar reaches a plain log, with the time, but not more often than asked.
    #[test]
    fn plain_output_shows_what_a_long_step_reports_on_its_bar_at_a_bounded_pace() {
        let every = Duration::from_millis(200);
        let (ui, lines) = recorded(every);
        let started = Instant::now();
        let step = ui.step("cargo", "cargo build");
        for i in 0..20 {
            step.bar()
                .set_message(format!("cargo: Compiling crate-{i}"));
            std::thread::sleep(Duration::from_millis(30));
        }
        // Long enough for the watcher to print the last message.
        std::thread::sleep(3 * every);
        step.done("built");
        let took = started.elapsed();
        std::thread::sleep(Duration::from_millis(100));
        let lines = lines.lock().unwrap().clone();
        assert!(lines[0].ends_with("cargo         cargo build"), "{lines:?}");
        assert!(lines.last().unwrap().ends_with("  built"), "{lines:?}");
        let progress: Vec<&String> = lines.iter().filter(|l| l.contains("Compiling")).collect();
        // Never more often than `every`, whatever the machine's load made of the sleeps above.
        let most = (took.as_millis() / every.as_millis()) as usize;
        assert!((2..=most).contains(&progress.len()), "{lines:?}");
        assert!(
            progress.last().unwrap().ends_with("Compiling crate-19"),
            "{lines:?}"
        );
        assert!(
            progress[0].trim_start().starts_with("0."),
            "elapsed time first: {lines:?}"
        );
    }

    #[test]
    fn plain_output_repeats_nothing_and_stops_with_the_step() {
        let (ui, lines) = recorded(Duration::from_millis(50));
        let step = ui.step("db", "starting");
        std::thread::sleep(Duration::from_millis(200));
        step.set("waiting for healthy");
        std::thread::sleep(Duration::from_millis(200));
        drop(step);
        std::thread::sleep(Duration::from_millis(100));
        let lines = lines.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
    }
}
