//! The store's views, ratings and impressions as the recommendation engine's training
//! signals (the documented mapping, docs/recommendations.md), and the registry record of a
//! trained model. Shared by `showrunner train --db` and the retrain job.

use showrunner_model::{EventBody, EventKind};
use showrunner_recommend::Model;
use showrunner_recommend::signals::{
    self, ImpressionSignal, RatingSignal, SignalMapping, Signals, ViewSignal,
};
use showrunner_store::{
    EventFilter, ModelRegistration, ModelStatus, Store, StoreError, ViewFilter,
};

/// Training data from the store: every view, rating and impression through the documented
/// mapping; an episode or season counts for its series (members choose series, not
/// episodes); thumbs down become blocked pairs.
pub fn signals_from_store<S: Store + ?Sized>(
    store: &S,
    decay_days: Option<f64>,
) -> Result<Signals, StoreError> {
    let views = store.views(&ViewFilter::default())?;
    let ratings = store.events(&EventFilter::all(EventKind::Rating))?;
    let impressions = store.events(&EventFilter::all(EventKind::Impression))?;
    let seconds = |ts: showrunner_model::Timestamp| ts.millis() / 1000;
    // Members choose series, not episodes: an episode or season counts for its series.
    let mut series_of: std::collections::HashMap<String, String> = Default::default();
    let titles: std::collections::BTreeSet<&str> = views
        .iter()
        .map(|v| v.title_id.as_str())
        .chain(ratings.iter().filter_map(|e| match &e.body {
            EventBody::Rating(r) => Some(r.title_id.as_str()),
            _ => None,
        }))
        .collect();
    for id in titles {
        if let Some(title) = store.title(id)?
            && let Some(series) = title.series_id
        {
            series_of.insert(id.to_owned(), series);
        }
    }
    let title_of =
        |id: &'_ str| -> String { series_of.get(id).cloned().unwrap_or_else(|| id.to_owned()) };
    let view_titles: Vec<String> = views.iter().map(|v| title_of(&v.title_id)).collect();
    let view_signals: Vec<ViewSignal<'_>> = views
        .iter()
        .zip(&view_titles)
        .map(|(v, title)| ViewSignal {
            member: &v.member_id,
            title,
            at: seconds(v.started_at),
            watched_s: v.watched_s,
            completion: v.completion,
            non_human: v.non_human,
        })
        .collect();
    // (member, series-level title, time, score): one pass each; the signals borrow them.
    let rated: Vec<(&str, String, i64, f32)> = ratings
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Rating(r) => Some((
                r.member_id.as_str(),
                title_of(&r.title_id),
                seconds(e.ts),
                r.value.score(),
            )),
            _ => None,
        })
        .collect();
    let rating_signals: Vec<RatingSignal<'_>> = rated
        .iter()
        .map(|(member, title, at, score)| RatingSignal {
            member,
            title,
            at: *at,
            score: *score,
        })
        .collect();
    let shown: Vec<(&str, String, i64)> = impressions
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Impression(i) => {
                Some((i.member_id.as_str(), title_of(&i.title_id), seconds(e.ts)))
            }
            _ => None,
        })
        .collect();
    let impression_signals: Vec<ImpressionSignal<'_>> = shown
        .iter()
        .map(|(member, title, at)| ImpressionSignal {
            member,
            title,
            at: *at,
        })
        .collect();
    let mapping = SignalMapping {
        decay_half_life_days: decay_days,
        ..SignalMapping::default()
    };
    Ok(signals::build(
        &view_signals,
        &rating_signals,
        &impression_signals,
        &mapping,
    ))
}

/// The registry record of `model`: its algorithm and parameters, the time span of its
/// training data, and `metrics` (validation figures, the gate's verdict).
pub fn registration(
    model: &Model,
    published_by: &str,
    status: ModelStatus,
    metrics: serde_json::Value,
    reason: Option<String>,
) -> ModelRegistration {
    let spec = &model.manifest.spec;
    let data = &model.manifest.data;
    let time = |seconds: i64| {
        (data.interactions > 0).then(|| showrunner_model::Timestamp::from_seconds(seconds))
    };
    ModelRegistration {
        algorithm: spec.algo().to_owned(),
        parameters: serde_json::to_value(spec).unwrap_or_default(),
        data_from: time(data.first_time),
        data_to: time(data.last_time),
        metrics,
        published_by: published_by.to_owned(),
        status,
        reason,
    }
}
