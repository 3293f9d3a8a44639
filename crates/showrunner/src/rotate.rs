//! `showrunner keys rotate`: re-wraps every member's data key under a new master key while
//! the service keeps running.
//!
//! With a key file (the default, or `SHOWRUNNER_MASTER_KEY_FILE`), the new key is written
//! beside it as `<file>.next`, every data key is re-wrapped under it in short transactions,
//! then the files move: `<file>` becomes `<file>.previous` and `<file>.next` becomes
//! `<file>`. Running processes read `.next` and `.previous` whenever they meet a key they do
//! not have, and re-read the key file every few seconds, so they keep working throughout.
//! Interrupted, the command can be run again: it finds `.next` and carries on with it.
//! A key given in `SHOWRUNNER_MASTER_KEY` cannot be replaced in place: rotate with
//! `--new-key-file`, then point every process at that file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use showrunner_store::vault::{KEY_FILE_CHECK, KeySource, sibling};
use showrunner_store::{Keyring, MasterKey};

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The SQLite database file.
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
    /// Write the new master key to this file (required when the current key comes from
    /// SHOWRUNNER_MASTER_KEY; must not exist).
    #[arg(long)]
    new_key_file: Option<PathBuf>,
}

pub fn run(args: RotateArgs) -> anyhow::Result<Outcome> {
    let source = KeySource::from_environment()?;
    let old = Keyring::from_environment()?;
    let (new_key, target) = match (&source, &args.new_key_file) {
        (_, Some(file)) => {
            if file.exists() {
                bail!(
                    "{} already exists; refusing to overwrite a key",
                    file.display()
                );
            }
            let key = MasterKey::generate();
            key.write_new_file(file)?;
            (key, None)
        }
        (KeySource::File(current), None) => {
            let next = sibling(current, "next");
            let key = if next.exists() {
                eprintln!("resuming the rotation to {}", next.display());
                MasterKey::read_file(&next)?
            } else {
                let key = MasterKey::generate();
                key.write_new_file(&next)?;
                key
            };
            (key, Some((current.clone(), next)))
        }
        (KeySource::Env, None) => bail!(
            "the master key comes from SHOWRUNNER_MASTER_KEY, which this command cannot \
             change: pass --new-key-file FILE, then give every process that file"
        ),
    };
    eprintln!(
        "rotating {} from master key {} to {}",
        crate::import::shown(&args.db),
        old.current().id_hex(),
        new_key.id_hex()
    );
    let mut ring = Keyring::single(new_key.clone()).with_other(old.current().clone());
    if let Some(file) = old.file() {
        // Keys of an earlier, unfinished rotation.
        for suffix in ["previous", "next"] {
            let other = sibling(file, suffix);
            if other.exists() {
                ring = ring.with_other(MasterKey::read_file(&other)?);
            }
        }
    }
    let mut store = showrunner_store::StoreLocation::from_path(&args.db)?
        .open_with_keyring(ring.clone())
        .with_context(|| format!("opening {}", crate::import::shown(&args.db)))?;
    let bar = crate::progress::counter_bar(0, "data keys");
    let mut report = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let first = store.rewrap_data_keys(&mut report)?;
    if let Some((current, next)) = &target {
        let previous = sibling(current, "previous");
        std::fs::rename(current, &previous)
            .with_context(|| format!("moving {} to {}", current.display(), previous.display()))?;
        std::fs::rename(next, current)
            .with_context(|| format!("moving {} to {}", next.display(), current.display()))?;
        // Processes still wrapping new data keys under the old key switch within one
        // check interval; a second pass re-wraps what they wrote meanwhile.
        std::thread::sleep(KEY_FILE_CHECK + std::time::Duration::from_secs(1));
    }
    let second = store.rewrap_data_keys(&mut report)?;
    bar.finish_and_clear();
    eprintln!(
        "re-wrapped {} of {} data keys under master key {}",
        first.rewrapped + second.rewrapped,
        second.total,
        new_key.id_hex()
    );
    match target {
        Some((current, _)) => eprintln!(
            "{} now holds the new key; the old one is in {} until you delete it (keep it \
             while backups made before now may be restored)",
            current.display(),
            sibling(&current, "previous").display()
        ),
        None => eprintln!(
            "give every process the new key file (SHOWRUNNER_MASTER_KEY_FILE={}) and keep \
             the old key while backups made before now may be restored",
            args.new_key_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
    }
    Ok(Outcome::Success)
}
