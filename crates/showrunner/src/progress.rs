//! Progress bars on a terminal (indicatif), silent otherwise, and the Ctrl-C flag that lets
//! long jobs stop cleanly between batches.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Installs the Ctrl-C handler once: the first Ctrl-C asks the running job to stop at the
/// next batch boundary (what is durable stays durable); a second one exits at once, which is
/// also safe because every acknowledged batch is already committed.
pub fn cancel_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler_flag = Arc::clone(&flag);
    let installed = ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: exiting now");
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: finishing the current batch (Ctrl-C again to exit now)");
    });
    if let Err(error) = installed {
        tracing::warn!("could not install the Ctrl-C handler: {error}");
    }
    flag
}

/// The import's progress bar: bytes of input read, with rows and rows/s in the message.
pub struct ImportProgress {
    bar: ProgressBar,
    rows: AtomicU64,
}

impl ImportProgress {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        ImportProgress {
            bar,
            rows: AtomicU64::new(0),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl showrunner_ingest::Progress for ImportProgress {
    fn begin(&self, total_bytes: u64) {
        self.bar.set_length(total_bytes);
    }

    fn file(&self, path: &Path) {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |name| name.to_string_lossy().into_owned(),
        );
        self.bar.set_prefix(name);
    }

    fn advance(&self, bytes: u64, rows: u64) {
        self.bar.inc(bytes);
        let rows = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let elapsed = self.bar.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{} rows, {} rows/s",
            crate::import::thousands(rows),
            crate::import::thousands((rows as f64 / elapsed) as u64)
        ));
    }
}

/// A counter bar for jobs measured in items (synthesis).
pub fn counter_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{human_pos}}/~{{human_len}} {what} ({{per_sec}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
