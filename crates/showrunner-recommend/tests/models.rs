//! Behaviour of every model on data with a known structure, the saved form, and bad input.

use std::sync::atomic::AtomicBool;

use showrunner_recommend::models::ease::EaseParams;
use showrunner_recommend::models::ials::{IalsParams, Solver};
use showrunner_recommend::models::knn::{KnnParams, Weighting};
use showrunner_recommend::models::pop::PopParams;
use showrunner_recommend::models::{Query, Recency};
use showrunner_recommend::tune::{default_grid, evaluate_scorer, search};
use showrunner_recommend::{
    Filter, Interactions, InteractionsBuilder, Model, RecommendError, Spec, TrainContext,
    train_scorer,
};

/// Two taste clusters: users `a*` interact with 8 of the 20 items `A*`, users `b*` with 8
/// of the `B*`, lower-numbered items more often (a long tail inside each cluster).
fn clustered() -> Interactions {
    let mut b = InteractionsBuilder::new();
    let mut state = 7u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for cluster in ["a", "b"] {
        for u in 0..40 {
            let mut items: Vec<usize> = Vec::new();
            while items.len() < 8 {
                let uniform = (next() % 10_000) as f64 / 10_000.0;
                let i = (20.0 * uniform * uniform) as usize;
                if !items.contains(&i) {
                    items.push(i);
                }
            }
            for (t, i) in items.iter().enumerate() {
                let item = format!("{}{i}", cluster.to_uppercase());
                b.add(&format!("{cluster}{u}"), &item, t as i64, 1.0)
                    .unwrap();
            }
        }
    }
    b.build()
}

fn specs() -> Vec<Spec> {
    vec![
        Spec::ItemKnn(KnnParams {
            k: 50,
            weighting: Weighting::Cosine,
            recency: Recency::None,
        }),
        Spec::ItemKnn(KnnParams {
            k: 50,
            weighting: Weighting::Bm25 { k1: 1.2, b: 0.75 },
            recency: Recency::None,
        }),
        Spec::ItemKnn(KnnParams {
            k: 50,
            weighting: Weighting::Tfidf,
            recency: Recency::Share { half_life: 0.25 },
        }),
        Spec::Ease(EaseParams {
            lambda: 10.0,
            recency: Recency::None,
        }),
        // With as many CG steps as factors, CG solves exactly (in exact arithmetic); three
        // steps (the default) approximate, which the yardstick measures on real data.
        Spec::Ials(IalsParams {
            factors: 8,
            iterations: 15,
            regularization: 1.0,
            alpha: 10.0,
            solver: Solver::Cg,
            cg_steps: 8,
            threads: 2,
            seed: 1,
            recency: Recency::None,
        }),
        Spec::Ials(IalsParams {
            factors: 8,
            iterations: 10,
            regularization: 1.0,
            alpha: 10.0,
            solver: Solver::Cholesky,
            cg_steps: 3,
            threads: 1,
            seed: 1,
            recency: Recency::None,
        }),
    ]
}

fn model(spec: &Spec, data: &Interactions) -> Model {
    let scorer = train_scorer(spec, data, TrainContext::default()).unwrap();
    Model::new(
        spec.clone(),
        scorer,
        data.clone(),
        "test",
        "now".into(),
        0.0,
    )
}

#[test]
fn every_collaborative_model_recommends_within_the_users_taste() {
    let data = clustered();
    for spec in specs() {
        let m = model(&spec, &data);
        for user in ["a3", "b17"] {
            let cluster = user[..1].to_uppercase();
            let (top, known) = m.recommend(user, 5, &Filter::default());
            assert!(known);
            assert_eq!(top.len(), 5, "{spec:?}");
            let u = m.user(user).unwrap();
            for (item, _) in &top {
                let id = &m.data.item_ids[*item as usize];
                assert!(
                    id.starts_with(&cluster),
                    "{spec:?} recommended {id} to {user}: {top:?}"
                );
                assert!(
                    !m.data.row(u).items.contains(item),
                    "{} recommended back {id}",
                    spec.algo()
                );
            }
        }
    }
}

#[test]
fn popularity_ranks_by_count_and_decays_with_age() {
    let mut b = InteractionsBuilder::new();
    let day = 86_400;
    for u in 0..3 {
        b.add(&format!("u{u}"), "old", 0, 1.0).unwrap();
    }
    for u in 0..2 {
        b.add(&format!("u{u}"), "new", 100 * day, 1.0).unwrap();
    }
    let data = b.build();
    let plain = model(&Spec::Pop(PopParams::default()), &data);
    let (top, known) = plain.recommend("stranger", 2, &Filter::default());
    assert!(!known);
    assert_eq!(plain.data.item_ids[top[0].0 as usize], "old");
    let trending = model(
        &Spec::Pop(PopParams {
            half_life_days: Some(7.0),
        }),
        &data,
    );
    let (top, _) = trending.recommend("stranger", 2, &Filter::default());
    assert_eq!(trending.data.item_ids[top[0].0 as usize], "new");
}

#[test]
fn ials_fold_in_of_a_known_history_matches_training() {
    let data = clustered();
    let spec = Spec::Ials(IalsParams {
        factors: 8,
        iterations: 15,
        regularization: 0.1,
        alpha: 10.0,
        solver: Solver::Cholesky,
        cg_steps: 3,
        threads: 1,
        seed: 3,
        recency: Recency::None,
    });
    let m = model(&spec, &data);
    let u = m.user("a5").unwrap();
    let mut trained = vec![0f32; m.n_items()];
    let mut folded = vec![0f32; m.n_items()];
    m.score_user(u, &mut trained);
    m.score_history(m.data.row(u), &mut folded);
    // The user's factors after the last item half-step are not exactly a fresh fold-in,
    // but the ranking of the user's cluster must agree.
    let top = |s: &[f32]| {
        let mut idx: Vec<usize> = (0..s.len()).collect();
        idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
        idx.truncate(10);
        idx.sort();
        idx
    };
    assert_eq!(top(&trained), top(&folded));
}

#[test]
fn an_unseen_history_is_scored_by_item_models() {
    let data = clustered();
    let m = model(&specs()[3], &data);
    let items: Vec<u32> = ["B1", "B2", "B3"]
        .iter()
        .map(|i| m.item(i).unwrap() as u32)
        .collect();
    let history = showrunner_recommend::data::Row {
        items: &items,
        times: &[1, 2, 3],
        weights: &[1.0, 1.0, 1.0],
    };
    let mut scores = vec![0f32; m.n_items()];
    m.score_history(history, &mut scores);
    let top = m.top(&scores, 5, &items, &Filter::default());
    for (i, _) in top {
        assert!(m.data.item_ids[i as usize].starts_with('B'));
    }
    let query = Query {
        user: None,
        history,
    };
    let mut again = vec![0f32; m.n_items()];
    m.scorer.score_into(&query, &mut again);
    assert_eq!(scores, again);
}

#[test]
fn saved_models_load_identically_and_damage_is_refused() {
    let data = clustered();
    for spec in specs() {
        let mut m = model(&spec, &data);
        let (manifest, blob) = m.to_bytes().unwrap();
        let loaded = Model::from_bytes(&manifest, &blob).unwrap();
        assert_eq!(loaded.manifest.version, m.manifest.version);
        for user in ["a1", "b2"] {
            assert_eq!(
                loaded.recommend(user, 10, &Filter::default()),
                m.recommend(user, 10, &Filter::default())
            );
        }
        let truncated = &blob[..blob.len() - 3];
        let err = Model::from_bytes(&manifest, truncated).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let mut flipped = blob.clone();
        flipped[blob.len() / 2] ^= 1;
        let err = Model::from_bytes(&manifest, &flipped).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
        let other = manifest.replace("\"format_version\": 2", "\"format_version\": 99");
        let err = Model::from_bytes(&other, &blob).unwrap_err();
        assert!(err.to_string().contains("format version 99"), "{err}");
        let err = Model::from_bytes("{not json", &blob).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"), "{err}");
    }
}

#[test]
fn untrainable_data_and_bad_parameters_are_clear_errors() {
    let mut one = InteractionsBuilder::new();
    one.add("only", "x", 0, 1.0).unwrap();
    one.add("only", "y", 1, 1.0).unwrap();
    let one = one.build();
    for spec in specs() {
        let err = train_scorer(&spec, &one, TrainContext::default()).unwrap_err();
        assert!(err.to_string().contains("single user"), "{err}");
    }
    let empty = InteractionsBuilder::new().build();
    let err = train_scorer(
        &Spec::Pop(PopParams::default()),
        &empty,
        TrainContext::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no interactions"), "{err}");
    let data = clustered();
    let bad = Spec::Ease(EaseParams {
        lambda: f64::NAN,
        recency: Recency::None,
    });
    let err = train_scorer(&bad, &data, TrainContext::default()).unwrap_err();
    assert!(err.to_string().contains("lambda"), "{err}");
    let bad = Spec::Ials(IalsParams {
        factors: 0,
        ..IalsParams::default()
    });
    let err = train_scorer(&bad, &data, TrainContext::default()).unwrap_err();
    assert!(err.to_string().contains("factors"), "{err}");
}

#[test]
fn a_cancelled_training_stops_with_interrupted() {
    let data = clustered();
    let cancel = AtomicBool::new(true);
    let ctx = TrainContext {
        cancel: Some(&cancel),
        progress: None,
    };
    for spec in specs() {
        let err = train_scorer(&spec, &data, ctx).unwrap_err();
        assert!(
            matches!(err, RecommendError::Interrupted),
            "{spec:?}: {err}"
        );
    }
}

#[test]
fn auto_search_beats_popularity_on_validation() {
    let data = clustered();
    let mut grid = default_grid("pop", 1);
    grid.extend(specs());
    let trials = search(&data, &grid, TrainContext::default()).unwrap();
    let best = &trials[0];
    let pop = trials
        .iter()
        .find(|t| t.spec.algo() == "pop")
        .expect("popularity was tried");
    assert_ne!(best.spec.algo(), "pop");
    assert!(best.metrics.get("ndcg@10") > pop.metrics.get("ndcg@10"));
    // Sorted best first by the folds' mean.
    for pair in trials.windows(2) {
        assert!(
            pair[0].metrics.get("ndcg@10_folds_mean") >= pair[1].metrics.get("ndcg@10_folds_mean")
        );
    }
    // Evaluating the chosen model on the holdout reproduces its recorded metrics.
    let holdout = data.temporal_holdout(0.2, 5);
    let scorer = train_scorer(&best.spec, &holdout.train, TrainContext::default()).unwrap();
    let again = evaluate_scorer(&scorer, &holdout, 20);
    assert!((again.get("ndcg@10") - best.metrics.get("ndcg@10")).abs() < 1e-9);
}
