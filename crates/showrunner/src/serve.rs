//! `showrunner serve`: the HTTP service on the embedded database, until Ctrl-C or SIGTERM
//! (then requests in flight finish and every accepted batch is committed).

use std::path::PathBuf;

use anyhow::Context;
use showrunner_server::{AppState, Config};

use crate::exit::Outcome;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The SQLite database file (created if missing). Overrides the file and SHOWRUNNER_DB.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Address and port to listen on. Overrides the file and SHOWRUNNER_LISTEN.
    #[arg(long)]
    listen: Option<String>,
    /// A TOML configuration file (see docs/server.md); SHOWRUNNER_* variables override it.
    #[arg(long)]
    config: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(db) = args.db {
        config.db = db;
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    serve_with(config)
}

/// Serves `config.db` on `config.listen` until Ctrl-C or SIGTERM.
pub fn serve_with(config: Config) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let state = AppState::open(config.clone())
            .with_context(|| format!("opening {}", crate::import::shown(&config.db)))?;
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let address = listener.local_addr()?;
        eprintln!(
            "showrunner serving {} on http://{address}",
            crate::import::shown(&config.db)
        );
        eprintln!("API reference: http://{address}/docs (OpenAPI: /openapi.json)");
        tracing::info!(%address, db = %crate::import::shown(&config.db), "listening");
        showrunner_server::serve(listener, state, shutdown_signal()).await?;
        eprintln!("showrunner stopped; every accepted batch is stored");
        Ok(Outcome::Success)
    })
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
