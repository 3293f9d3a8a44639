//! `showrunner alerts`: the monitor's alerts as the store holds them: `list` (pending and
//! firing, as last saved by a running server), `history`, `silences`, `silence add`,
//! `silence expire` and `notifications` (the delivery log). Works on the database file the
//! server uses; a running server picks up silences added here at its next tick.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use showrunner_model::Timestamp;
use showrunner_server::monitor::api::{NewSilence, silence_record};
use showrunner_server::monitor::saved_alerts;

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    command: AlertsCommand,
    /// The SQLite database file the server uses.
    #[arg(
        long,
        env = "SHOWRUNNER_DB",
        default_value = "showrunner.db",
        global = true
    )]
    db: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum AlertsCommand {
    /// Pending and firing alerts (exit code 1 when any is firing).
    List,
    /// Alerts that fired or resolved, newest first.
    History {
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Every silence, active or expired, newest first.
    Silences,
    /// Add or end a silence.
    Silence {
        #[command(subcommand)]
        command: SilenceCommand,
    },
    /// Notifications sent or given up on, newest first.
    Notifications {
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
}

#[derive(Debug, clap::Subcommand)]
enum SilenceCommand {
    /// Mute alerts whose labels match every --match for a while.
    Add {
        /// A label that muted alerts have, `name=value` (repeat for more).
        #[arg(long = "match", required = true)]
        matchers: Vec<String>,
        /// How long: `30m`, `2h`, `1d` or seconds.
        #[arg(long, default_value = "2h")]
        duration: String,
        /// Why (required).
        #[arg(long)]
        comment: String,
        /// Who (default: $USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// End a silence now.
    Expire { id: String },
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn time(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".into(), |ms| Timestamp::from_millis(ms).to_rfc3339())
}

fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub fn run(args: AlertsArgs) -> anyhow::Result<Outcome> {
    let read = || {
        crate::import::open_existing_store(&args.db)
            .with_context(|| format!("opening {}", crate::import::shown(&args.db)))
    };
    match args.command {
        AlertsCommand::List => {
            let store = read()?;
            let alerts = match store.alert_state()? {
                Some(text) => saved_alerts(&text).with_context(|| {
                    format!(
                        "reading the alert state in {}",
                        crate::import::shown(&args.db)
                    )
                })?,
                None => Vec::new(),
            };
            let firing = alerts
                .iter()
                .any(|a| a.state == showrunner_monitor::alerts::State::Firing);
            if args.json {
                print_json(&alerts)?;
            } else if alerts.is_empty() {
                println!("no pending or firing alerts");
            } else {
                for a in &alerts {
                    println!(
                        "{:<8} {:<9} {} since {} value {:.3} score {:.2} [{}]{}",
                        format!("{:?}", a.state).to_lowercase(),
                        format!("{:?}", a.severity).to_lowercase(),
                        a.rule,
                        time(Some(a.active_since)),
                        a.value,
                        a.score,
                        labels_text(&a.labels),
                        a.annotations
                            .get("summary")
                            .map(|s| format!(" — {s}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(if firing {
                Outcome::Findings
            } else {
                Outcome::Success
            })
        }
        AlertsCommand::History { limit } => {
            let history = read()?.alert_history(limit)?;
            if args.json {
                print_json(&history)?;
            } else {
                for h in &history {
                    println!(
                        "{} {:<8} {} {}",
                        time(Some(h.entry.at_ms)),
                        h.entry.state,
                        h.entry.rule,
                        h.entry.fingerprint
                    );
                }
            }
            Ok(Outcome::Success)
        }
        AlertsCommand::Silences => {
            let silences = read()?.silences()?;
            let now = now_ms();
            if args.json {
                print_json(&silences)?;
            } else {
                for s in &silences {
                    let status = if s.ends_at_ms <= now {
                        "expired"
                    } else if s.starts_at_ms > now {
                        "pending"
                    } else {
                        "active"
                    };
                    println!(
                        "{} {:<7} {} .. {} [{}] by {}: {}",
                        s.id,
                        status,
                        time(Some(s.starts_at_ms)),
                        time(Some(s.ends_at_ms)),
                        labels_text(&s.matchers),
                        s.created_by,
                        s.comment
                    );
                }
            }
            Ok(Outcome::Success)
        }
        AlertsCommand::Silence { command } => {
            let mut store = crate::import::open_existing_for_writing(&args.db)
                .with_context(|| format!("opening {}", crate::import::shown(&args.db)))?;
            match command {
                SilenceCommand::Add {
                    matchers,
                    duration,
                    comment,
                    by,
                } => {
                    let mut parsed = BTreeMap::new();
                    for m in &matchers {
                        let Some((name, value)) = m.split_once('=') else {
                            bail!("--match {m:?}: expected name=value");
                        };
                        if name.trim().is_empty() {
                            bail!("--match {m:?}: the label name is empty");
                        }
                        parsed.insert(name.trim().to_owned(), value.to_owned());
                    }
                    let record = silence_record(
                        NewSilence {
                            matchers: parsed,
                            starts_at: None,
                            ends_at: None,
                            duration: Some(duration),
                            created_by: by
                                .or_else(|| std::env::var("USER").ok())
                                .unwrap_or_else(|| "cli".into()),
                            comment,
                        },
                        now_ms(),
                    )
                    .map_err(|e| anyhow::anyhow!("the silence: {e}"))?;
                    store.put_silence(&record)?;
                    if args.json {
                        print_json(&record)?;
                    } else {
                        eprintln!(
                            "silenced [{}] until {}",
                            labels_text(&record.matchers),
                            time(Some(record.ends_at_ms))
                        );
                        println!("{}", record.id);
                    }
                    Ok(Outcome::Success)
                }
                SilenceCommand::Expire { id } => {
                    if !store.expire_silence(&id, now_ms())? {
                        bail!(
                            "no active silence has id {id:?} in {}",
                            crate::import::shown(&args.db)
                        );
                    }
                    eprintln!("silence {id} ended");
                    Ok(Outcome::Success)
                }
            }
        }
        AlertsCommand::Notifications { limit } => {
            let log = read()?.notifications(limit)?;
            if args.json {
                print_json(&log)?;
            } else {
                for n in &log {
                    println!(
                        "{} {:<6} {:<12} {:<12} attempts {} {}{}",
                        time(Some(n.entry.at_ms)),
                        n.entry.status,
                        n.entry.receiver,
                        n.entry.kind,
                        n.entry.attempts,
                        n.entry
                            .http_status
                            .map(|s| format!("HTTP {s}"))
                            .unwrap_or_default(),
                        n.entry
                            .error
                            .as_deref()
                            .map(|e| format!(" — {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(Outcome::Success)
        }
    }
}
