//! A progress bar on stderr: hidden when stderr is not a terminal or with `--quiet`, and a way to print
//! lines without tearing it.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A photo counter with rate and ETA.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` photos. indicatif's stderr target draws nothing when stderr is not a
    /// terminal, so logs and CI output stay clean.
    pub fn new(total: u64, quiet: bool, what: &str) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = format!(
            "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} photos · {{per_sec}} · ETA {{eta}} {{wide_msg}}"
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        Self { bar }
    }

    /// One more photo done.
    pub fn inc(&self, message: &str) {
        self.bar.set_message(message.to_string());
        self.bar.inc(1);
    }

    /// Prints a line on stderr above the bar (also when the bar is hidden).
    pub fn eprintln(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
