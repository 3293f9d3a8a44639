//! The forecast backtest for a grid of smoothing models on a store: how the default
//! `ForecastModel` was chosen.
//!
//! `cargo run --release -p showrunner-analytics --example forecast_tune -- DB FROM TO`
use std::path::Path;

use showrunner_analytics::{ForecastModel, Prepared, forecast_with};
use showrunner_model::Timestamp;
use showrunner_store::{FactsFilter, SqliteStore, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: forecast_tune DB FROM TO".into());
    }
    let store = SqliteStore::open_read_only(Path::new(&args[0]))?;
    let facts = store.viewing_facts(&FactsFilter {
        from: Timestamp::parse(&args[1])?,
        to: Timestamp::parse(&args[2])?,
        country: None,
        title_id: None,
    })?;
    let prepared = Prepared::new(&facts);
    for alpha in [0.05, 0.1, 0.15, 0.25] {
        for beta in [0.0, 0.05] {
            for phi in [0.8, 0.9] {
                let model = ForecastModel { alpha, beta, phi };
                let backtest = forecast_with(&model, &prepared, &[]).backtest;
                println!(
                    "{alpha} {beta} {phi}: mape {:.3} naive {:.3} ratio {:.3} n {}",
                    backtest.mape.unwrap_or(0.0),
                    backtest.naive_mape.unwrap_or(0.0),
                    backtest.ratio_to_naive.unwrap_or(0.0),
                    backtest.forecasts
                );
            }
        }
    }
    Ok(())
}
