//! Checkpoints on a thread of their own, for the connection that writes groups of batches
//! (`ServerStore::write_batches*`: the service's ingest and `showrunner import`).
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the threshold: the
//! writer copies the WAL's pages into the database file and fsyncs it before it can start
//! the next batch (measured at ingest: a twentieth of the writer's CPU, and its longest
//! waits). Here the writer's connection counts its WAL frames instead (a WAL hook) and,
//! past [`Thresholds::nudge`] frames, wakes a checkpointer thread that folds the log back
//! on a connection of its own while the writer goes on. A PASSIVE checkpoint never blocks
//! the writer or a reader; the WAL starts again from its beginning at the first commit
//! after a checkpoint that copied every frame.
//!
//! A writer that commits faster than the checkpointer copies would otherwise grow the WAL
//! without bound (SQLite only restarts it once every frame is copied), so past
//! [`Thresholds::inline`] frames the writer checkpoints itself after its commit, as the
//! automatic checkpoint would have.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// When the writer wakes the checkpointer, and when it checkpoints itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thresholds {
    /// WAL frames after a commit from which the checkpointer is woken.
    pub(crate) nudge: i32,
    /// WAL frames after a commit from which the writer checkpoints itself (the checkpointer
    /// has fallen behind).
    pub(crate) inline: i32,
}

impl Thresholds {
    /// The store's: wake the checkpointer at the same size the automatic checkpoint used
    /// (64 MiB of 16 KiB pages), take over at four times that.
    pub(crate) const DEFAULT: Thresholds = Thresholds {
        nudge: super::WAL_AUTOCHECKPOINT_PAGES as i32,
        inline: 4 * super::WAL_AUTOCHECKPOINT_PAGES as i32,
    };
}

thread_local! {
    /// Frames in the WAL after the last commit on this thread, set by [`note_frames`].
    static WAL_FRAMES: Cell<i32> = const { Cell::new(0) };
}

/// The WAL hook: SQLite calls it on the committing thread, after every commit, with the
/// number of frames now in the log. Replacing the default hook also turns the automatic
/// checkpoint off for this connection.
fn note_frames(_wal: &rusqlite::hooks::Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(frames);
    Ok(())
}

/// How often the checkpointer has run, for tests and diagnostics.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Checkpoints the writer ran itself.
    pub(crate) inline: AtomicU64,
    /// Runs the background checkpointer finished (tests wait on it).
    done: (Mutex<u64>, Condvar),
}

impl Counts {
    /// Waits until the background checkpointer has finished more than `runs` runs, or
    /// `timeout` passes; returns the runs finished.
    #[cfg(test)]
    pub(crate) fn wait_beyond(&self, runs: u64, timeout: Duration) -> u64 {
        let (lock, signal) = &self.done;
        let guard = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let (guard, _) = signal
            .wait_timeout_while(guard, timeout, |done| *done <= runs)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *guard
    }
}

/// The checkpointer thread of one writing connection. Dropping it lets the thread finish
/// the checkpoint it is running and joins it.
pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    handle: Option<JoinHandle<()>>,
    thresholds: Thresholds,
    pub(crate) counts: Arc<Counts>,
}

impl std::fmt::Debug for Checkpointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpointer")
            .field("thresholds", &self.thresholds)
            .finish()
    }
}

impl Checkpointer {
    /// Installs the frame-counting hook on `writer` (which turns its automatic checkpoint
    /// off) and starts the thread, on a connection of its own to `path`. `None` when the
    /// thread cannot start; the caller keeps the automatic checkpoint then.
    pub(crate) fn start(writer: &Connection, path: &Path, thresholds: Thresholds) -> Option<Self> {
        let counts = Arc::new(Counts::default());
        let (nudge, wake) = mpsc::sync_channel::<()>(1);
        let thread_path: PathBuf = path.to_owned();
        let thread_counts = Arc::clone(&counts);
        let handle = std::thread::Builder::new()
            .name("showrunner-checkpoint".into())
            .spawn(move || run(&thread_path, &wake, &thread_counts))
            .map_err(|error| tracing::warn!(%error, "cannot start the checkpoint thread"))
            .ok()?;
        writer.wal_hook(Some(note_frames));
        Some(Checkpointer {
            nudge: Some(nudge),
            handle: Some(handle),
            thresholds,
            counts,
        })
    }

    /// After a commit on the writer's connection (on the thread that committed): wakes the
    /// checkpointer, or checkpoints on `writer` itself when the WAL has outgrown the
    /// checkpointer. The commit is durable already; a checkpoint that fails here is logged
    /// and tried again after a later commit.
    pub(crate) fn after_commit(&self, writer: &Connection) {
        let frames = WAL_FRAMES.replace(0);
        if frames >= self.thresholds.inline {
            match writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                Ok(()) => {
                    self.counts.inline.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => tracing::warn!(%error, frames, "checkpoint after commit failed"),
            }
        } else if frames >= self.thresholds.nudge
            && let Some(nudge) = &self.nudge
        {
            // Full: a wake-up is pending already, which is all that is needed.
            if let Err(TrySendError::Disconnected(())) = nudge.try_send(()) {
                tracing::warn!("the checkpoint thread has stopped");
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

/// The thread: one PASSIVE checkpoint per wake-up, until the writer's side is dropped.
fn run(path: &Path, wake: &mpsc::Receiver<()>, counts: &Counts) {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = match Connection::open_with_flags(path, flags) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, path = %path.display(), "the checkpoint thread cannot open the store");
            // Drain wake-ups so the writer never blocks; it checkpoints itself past the
            // inline threshold.
            while wake.recv().is_ok() {}
            return;
        }
    };
    let _ = connection.busy_timeout(Duration::from_secs(5));
    while wake.recv().is_ok() {
        if let Err(error) = connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, path = %path.display(), "background checkpoint failed");
        }
        let (lock, signal) = &counts.done;
        let mut done = lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *done += 1;
        signal.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file database in WAL mode with 4 KiB pages and a table to fill.
    fn writer(path: &Path) -> Connection {
        let connection = Connection::open(path).expect("open");
        connection
            .execute_batch(
                "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; \
                 CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL);",
            )
            .expect("schema");
        connection
    }

    /// Commits `rows` rows of 1 KiB (about a quarter of a page each) in one transaction.
    fn commit_rows(connection: &mut Connection, rows: usize) {
        let transaction = connection.transaction().expect("begin");
        {
            let mut insert = transaction
                .prepare_cached("INSERT INTO t (v) VALUES (zeroblob(1024))")
                .expect("prepare");
            for _ in 0..rows {
                insert.execute([]).expect("insert");
            }
        }
        transaction.commit().expect("commit");
    }

    /// A fresh [`writer`] in a temporary directory with a checkpointer of `thresholds`.
    fn started(thresholds: Thresholds) -> (tempfile::TempDir, PathBuf, Connection, Checkpointer) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.sqlite");
        let connection = writer(&path);
        let checkpointer = Checkpointer::start(&connection, &path, thresholds).expect("started");
        (dir, path, connection, checkpointer)
    }

    fn wal_len(path: &Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
    }

    #[test]
    fn a_commit_past_the_nudge_wakes_the_background_checkpoint() {
        let (_dir, path, mut connection, checkpointer) = started(Thresholds {
            nudge: 100,
            inline: i32::MAX,
        });
        // 50 frames: below the nudge, nothing runs.
        commit_rows(&mut connection, 200);
        checkpointer.after_commit(&connection);
        assert_eq!(
            checkpointer
                .counts
                .wait_beyond(0, Duration::from_millis(200)),
            0
        );
        // Past it: the thread checkpoints, the writer does not.
        commit_rows(&mut connection, 400);
        checkpointer.after_commit(&connection);
        assert!(checkpointer.counts.wait_beyond(0, Duration::from_secs(20)) >= 1);
        assert_eq!(checkpointer.counts.inline.load(Ordering::Relaxed), 0);
        // Every frame was copied: the next commit starts the log again from its beginning,
        // so the file stops growing.
        let before = wal_len(&path);
        commit_rows(&mut connection, 40);
        checkpointer.after_commit(&connection);
        assert_eq!(wal_len(&path), before);
        drop(checkpointer);
        let rows: i64 = connection
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .expect("count");
        assert_eq!(rows, 640);
    }

    #[test]
    fn a_writer_ahead_of_the_checkpointer_checkpoints_itself_and_the_log_stays_bounded() {
        // The thread is never woken (nudge out of reach); the hook has turned SQLite's own
        // automatic checkpoint off, so only the inline checkpoint can bound the log.
        let (_dir, path, mut connection, checkpointer) = started(Thresholds {
            nudge: i32::MAX,
            inline: 300,
        });
        for _ in 0..40 {
            commit_rows(&mut connection, 200);
            checkpointer.after_commit(&connection);
        }
        // 40 commits of ~50 frames would be ~2,000 frames (8 MiB) without a checkpoint.
        assert!(checkpointer.counts.inline.load(Ordering::Relaxed) >= 5);
        let frame = 4096 + 24;
        assert!(
            wal_len(&path) <= (300 + 60) * frame + 32,
            "WAL of {} bytes",
            wal_len(&path)
        );
    }
}
