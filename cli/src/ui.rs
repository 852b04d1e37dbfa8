//! What users see while msctl works: one progress line per service on a terminal, plain
//! timestamped lines otherwise (CI logs), and aligned tables.

use console::style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Ui {
    multi: MultiProgress,
    live: bool,
    quiet: bool,
    width: usize,
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
        }
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
            name: name.to_owned(),
            ui: self.clone(),
            start: Instant::now(),
        };
        step.set(phase);
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
            eprintln!("{}", text.as_ref());
        }
    }
}

pub struct Step {
    bar: ProgressBar,
    name: String,
    ui: Ui,
    start: Instant,
}

impl Step {
    pub fn set(&self, phase: &str) {
        self.bar.set_message(phase.to_owned());
        if !self.ui.live && !self.ui.quiet {
            eprintln!(
                "{:>7} {:w$}  {phase}",
                elapsed(self.start),
                self.name,
                w = self.ui.width
            );
        }
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
                .finish_with_message(format!("{live} {}", style(elapsed(self.start)).dim()));
        } else {
            self.bar.finish_and_clear();
            if !self.ui.quiet {
                eprintln!(
                    "{:>7} {:w$}  {plain}",
                    elapsed(self.start),
                    self.name,
                    w = self.ui.width
                );
            }
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
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
