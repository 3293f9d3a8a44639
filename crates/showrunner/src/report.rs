//! `showrunner report content`: the content analytics report (or one show's dashboard with
//! `--title`) over a date range, as one self-contained HTML file, JSON or tidy CSV.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use showrunner_analytics::{ContentReport, ReportOptions};
use showrunner_model::Timestamp;
use showrunner_store::{FactsFilter, Store};

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, clap::Subcommand)]
enum Which {
    /// What members watch, finish and abandon; launches; trending; demand against supply;
    /// cohorts; forecasts.
    Content(ContentArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct ContentArgs {
    /// The SQLite database file.
    #[arg(long, env = "SHOWRUNNER_DB", default_value = "showrunner.db")]
    db: PathBuf,
    /// First day (YYYY-MM-DD, UTC) or instant (RFC 3339) of the range.
    #[arg(long)]
    from: String,
    /// End of the range, exclusive (YYYY-MM-DD, UTC, or RFC 3339).
    #[arg(long)]
    to: String,
    /// Only views played in this country (ISO 3166-1 alpha-2).
    #[arg(long)]
    country: Option<String>,
    /// One show's dashboard instead of the whole report (an episode id selects its series).
    #[arg(long)]
    title: Option<String>,
    /// html: one self-contained page with charts; json: every figure; csv: one
    /// `section,path,value` row per figure.
    #[arg(long, value_enum, default_value = "html")]
    format: Format,
    /// Where to write the report (standard output when absent).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    match args.which {
        Which::Content(args) => content(args),
    }
}

/// A date (midnight UTC) or an RFC 3339 instant.
fn parse_time(text: &str, flag: &str) -> anyhow::Result<Timestamp> {
    let with_time = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    Timestamp::parse(&with_time)
        .map_err(|error| anyhow::anyhow!("--{flag} {text:?} is not a date or time: {error}"))
}

fn content(args: ContentArgs) -> anyhow::Result<Outcome> {
    let from = parse_time(&args.from, "from")?;
    let to = parse_time(&args.to, "to")?;
    if to <= from {
        bail!("--to ({}) must be after --from ({})", args.to, args.from);
    }
    let store = crate::import::open_existing_store(&args.db)?;
    let filter = FactsFilter {
        from,
        to,
        country: args.country.as_ref().map(|c| c.to_ascii_uppercase()),
        title_id: args.title.clone(),
    };
    let clock = Instant::now();
    let text = match &args.title {
        None => {
            let report = content_report(store.as_ref(), &filter)?;
            render(&report, args.format, showrunner_analytics::report_html)?
        }
        Some(title) => {
            let facts = store.viewing_facts(&filter).with_context(|| {
                format!(
                    "reading viewing facts from {}",
                    crate::import::shown(&args.db)
                )
            })?;
            tracing::info!(
                seconds = clock.elapsed().as_secs_f64(),
                views = facts.views.len(),
                "facts read"
            );
            let Some(dashboard) = showrunner_analytics::title_dashboard(&facts, title) else {
                bail!(
                    "title {title:?} is not in {}",
                    crate::import::shown(&args.db)
                );
            };
            render(
                &dashboard,
                args.format,
                showrunner_analytics::dashboard_html,
            )?
        }
    };
    tracing::info!(seconds = clock.elapsed().as_secs_f64(), "report computed");
    match &args.out {
        Some(path) => {
            write(path, &text)?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Success)
}

/// Reads the facts for `filter` and computes the whole report.
pub fn content_report<S: Store + ?Sized>(
    store: &S,
    filter: &FactsFilter,
) -> anyhow::Result<ContentReport> {
    let clock = Instant::now();
    let facts = store
        .viewing_facts(filter)
        .context("reading viewing facts")?;
    tracing::info!(
        seconds = clock.elapsed().as_secs_f64(),
        views = facts.views.len(),
        "facts read"
    );
    Ok(showrunner_analytics::content_report(
        &facts,
        &ReportOptions::default(),
    ))
}

fn render<T: serde::Serialize>(
    value: &T,
    format: Format,
    html: fn(&T) -> String,
) -> anyhow::Result<String> {
    Ok(match format {
        Format::Html => html(value),
        Format::Json => serde_json::to_string_pretty(value)? + "\n",
        Format::Csv => showrunner_analytics::to_csv(value)?,
    })
}

pub fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
