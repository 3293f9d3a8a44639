//! Backups on a schedule, and restoring one.
//!
//! The backup job writes a consistent copy of the live database (SQLite's online backup,
//! taken while the service keeps writing) to `dir/showrunner-<UTC time>.db` and then
//! deletes the oldest copies beyond `keep`. Only files named like its own are ever deleted.
//!
//! [`restore`] copies a backup into a new database file (never over an existing one),
//! upgrades its schema if it comes from an older showrunner, and reports what it holds.

use std::fs;
use std::path::{Path, PathBuf};

use showrunner_model::Timestamp;
use showrunner_store::{SqliteStore, Store, StoreCounts, StoreError};

use crate::config::BackupConfig;
use crate::error::JobError;
use crate::scheduler::{Job, RunContext};

const PREFIX: &str = "showrunner-";
const SUFFIX: &str = ".db";

#[derive(Debug, Clone)]
pub struct BackupJob {
    config: BackupConfig,
}

impl BackupJob {
    pub fn new(config: BackupConfig) -> BackupJob {
        BackupJob { config }
    }
}

/// `showrunner-20261126T031500Z.db`: sorts by time as text.
pub fn backup_file_name(at: Timestamp) -> String {
    let compact: String = at
        .to_rfc3339()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    format!("{PREFIX}{compact}{SUFFIX}")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JobError + '_ {
    move |source| JobError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The backups in `dir` made by the job, oldest first.
pub fn list_backups(dir: &Path) -> Result<Vec<PathBuf>, JobError> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) && entry.path().is_file() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

impl Job for BackupJob {
    fn name(&self) -> &'static str {
        "backup"
    }

    fn run(&self, context: &mut RunContext<'_>) -> Result<serde_json::Value, JobError> {
        let dir = &self.config.dir;
        fs::create_dir_all(dir).map_err(io(dir))?;
        let dest = dir.join(backup_file_name(context.now));
        let store = showrunner_store::open_path_read_only(context.db)?;
        store.backup_to(&dest)?;
        let bytes = fs::metadata(&dest).map_err(io(&dest))?.len();
        context.log(format!("wrote {} ({bytes} bytes)", dest.display()));
        let backups = list_backups(dir)?;
        let excess = backups.len().saturating_sub(self.config.keep);
        let mut deleted = Vec::new();
        for old in &backups[..excess] {
            fs::remove_file(old).map_err(io(old))?;
            context.log(format!(
                "deleted {} (keeping {})",
                old.display(),
                self.config.keep
            ));
            deleted.push(old.display().to_string());
        }
        Ok(serde_json::json!({
            "path": dest.display().to_string(),
            "bytes": bytes,
            "kept": backups.len() - excess,
            "deleted": deleted,
        }))
    }
}

/// Restores the backup `from` into the new database file `to` and returns what it holds.
/// Refuses when `to` exists; `from` must be a showrunner database.
pub fn restore(from: &Path, to: &Path) -> Result<StoreCounts, JobError> {
    if to.exists() {
        return Err(StoreError::DestinationExists {
            path: to.to_owned(),
        }
        .into());
    }
    match SqliteStore::open_read_only(from) {
        Ok(source) => source.backup_to(to)?,
        // A backup of an older showrunner: copy the file as it is, the open below upgrades
        // the copy (the backup itself is never changed).
        Err(StoreError::NeedsMigration { .. }) => {
            let mut source = fs::File::open(from).map_err(io(from))?;
            let mut dest = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(to)
                .map_err(io(to))?;
            std::io::copy(&mut source, &mut dest).map_err(io(to))?;
            dest.sync_all().map_err(io(to))?;
        }
        Err(error) => return Err(error.into()),
    }
    let restored = SqliteStore::open(to)?;
    Ok(restored.counts()?)
}
