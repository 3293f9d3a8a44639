//! `ExperimentStore` on both backends: one running experiment at a time, the first
//! assignment of a member stays, and the per-arm figures count exactly the impressions,
//! taken impressions and viewing hours of assigned members between assignment and stop.

mod common;

use common::{Backend, at};
use showrunner_model::{Event, EventBody, Impression, Play, PlayAction};
use showrunner_store::{
    ArmFigures, ExperimentArm, ExperimentError, ExperimentStatus, NewExperiment,
};

fn arms() -> Vec<ExperimentArm> {
    vec![
        ExperimentArm {
            name: "control".into(),
            model_version: 1,
            weight: 1,
        },
        ExperimentArm {
            name: "treatment".into(),
            model_version: 2,
            weight: 3,
        },
    ]
}

fn new_experiment(name: &str) -> NewExperiment {
    NewExperiment {
        name: name.into(),
        arms: arms(),
        salt: "00ff".into(),
        created_at: at(0),
        created_by: "tester".into(),
    }
}

fn impression(member: &str, title: &str, request: &str, seconds: i64) -> Event {
    Event::with_derived_id(
        at(seconds),
        EventBody::Impression(Impression {
            member_id: member.into(),
            profile_id: None,
            title_id: title.into(),
            row: "top_picks".into(),
            rank: 1,
            request_id: request.into(),
            device: None,
        }),
    )
}

fn play(member: &str, title: &str, request: Option<&str>, seconds: i64, watched_s: u32) -> Event {
    Event::with_derived_id(
        at(seconds),
        EventBody::Play(Play {
            member_id: member.into(),
            profile_id: None,
            title_id: title.into(),
            session_id: format!("{member}-{title}-{seconds}"),
            action: PlayAction::Stop,
            position_s: watched_s,
            watched_s,
            device: Some("tv".into()),
            country: Some("US".into()),
            request_id: request.map(str::to_owned),
        }),
    )
}

fn one_experiment_runs_at_a_time(backend: Backend) {
    let mut test = backend.experiment_store();
    let store = test.store.as_mut();
    assert!(store.running_experiment().unwrap().is_none());
    let first = store.create_experiment(&new_experiment("first")).unwrap();
    match store.create_experiment(&new_experiment("second")) {
        Err(ExperimentError::AlreadyRunning { running }) => assert_eq!(running, first),
        other => panic!("expected AlreadyRunning, got {other:?}"),
    }
    let record = store.running_experiment().unwrap().unwrap();
    assert_eq!(record.id, first);
    assert_eq!(record.name, "first");
    assert_eq!(record.arms, arms());
    assert_eq!(record.salt, "00ff");
    assert_eq!(record.status, ExperimentStatus::Running);
    assert_eq!(record.created_by, "tester");
    assert_eq!(record.stopped_at, None);

    store.stop_experiment(first, at(50)).unwrap();
    assert!(matches!(
        store.stop_experiment(first, at(60)),
        Err(ExperimentError::AlreadyStopped { id }) if id == first
    ));
    assert!(matches!(
        store.stop_experiment(999, at(60)),
        Err(ExperimentError::NoSuchExperiment { id: 999 })
    ));
    assert!(store.running_experiment().unwrap().is_none());
    let stopped = store.experiment(first).unwrap().unwrap();
    assert_eq!(stopped.status, ExperimentStatus::Stopped);
    assert_eq!(stopped.stopped_at, Some(at(50)));

    let second = store.create_experiment(&new_experiment("second")).unwrap();
    assert!(second > first);
    let ids: Vec<i64> = store.experiments().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(ids, vec![second, first]);
    assert!(store.experiment(999).unwrap().is_none());
    assert!(store.experiment_figures(999).unwrap().is_none());
}

fn the_first_assignment_stays(backend: Backend) {
    let mut test = backend.experiment_store();
    let store = test.store.as_mut();
    let id = store.create_experiment(&new_experiment("x")).unwrap();
    let added = store
        .record_assignments(
            id,
            &[
                ("m1".into(), "control".into()),
                ("m2".into(), "treatment".into()),
            ],
            at(10),
        )
        .unwrap();
    assert_eq!(added, 2);
    let added = store
        .record_assignments(
            id,
            &[
                ("m1".into(), "treatment".into()),
                ("m3".into(), "control".into()),
            ],
            at(20),
        )
        .unwrap();
    assert_eq!(added, 1);
    assert_eq!(
        store.assignment(id, "m1").unwrap(),
        Some(("control".into(), at(10)))
    );
    assert_eq!(
        store.assignment(id, "m3").unwrap(),
        Some(("control".into(), at(20)))
    );
    assert_eq!(store.assignment(id, "m9").unwrap(), None);
}

fn figures_count_between_assignment_and_stop(backend: Backend) {
    let mut test = backend.experiment_store();
    let store = test.store.as_mut();
    let id = store.create_experiment(&new_experiment("x")).unwrap();
    store
        .record_assignments(
            id,
            &[
                ("m1".into(), "treatment".into()),
                ("m2".into(), "treatment".into()),
                ("m3".into(), "control".into()),
            ],
            at(100),
        )
        .unwrap();
    store
        .write_batch(&common::events_batch(vec![
            // Before assignment: not counted.
            impression("m1", "t9", "r0", 50),
            play("m1", "t9", Some("r0"), 60, 7_200),
            // m1: two impressions, one taken; the play watched half an hour.
            impression("m1", "t1", "r1", 200),
            impression("m1", "t2", "r1", 200),
            play("m1", "t1", Some("r1"), 300, 1_800),
            // m2: one impression not taken (the play cites another title); 1.5 hours.
            impression("m2", "t1", "r2", 200),
            play("m2", "t3", Some("r2"), 400, 5_400),
            // m3: one impression, taken; 1 hour.
            impression("m3", "t4", "r3", 500),
            play("m3", "t4", Some("r3"), 600, 3_600),
            // Someone never assigned.
            impression("m4", "t4", "r4", 500),
            play("m4", "t4", Some("r4"), 600, 3_600),
        ]))
        .unwrap();
    store.stop_experiment(id, at(1_000)).unwrap();
    // After the stop: not counted.
    store
        .write_batch(&common::events_batch(vec![
            impression("m3", "t5", "r5", 2_000),
            play("m3", "t5", Some("r5"), 2_100, 3_600),
        ]))
        .unwrap();

    let figures = store.experiment_figures(id).unwrap().unwrap();
    assert_eq!(
        figures,
        vec![
            ArmFigures {
                arm: "control".into(),
                members: 1,
                members_with_impressions: 1,
                members_taking: 1,
                impressions: 1,
                taken: 1,
                hours_sum: 1.0,
                hours_sum_squares: 1.0,
            },
            ArmFigures {
                arm: "treatment".into(),
                members: 2,
                members_with_impressions: 2,
                members_taking: 1,
                impressions: 3,
                taken: 1,
                hours_sum: 2.0,
                hours_sum_squares: 0.25 + 2.25,
            },
        ]
    );
}

fn arms_nobody_joined_have_zeros(backend: Backend) {
    let mut test = backend.experiment_store();
    let store = test.store.as_mut();
    let id = store.create_experiment(&new_experiment("x")).unwrap();
    store
        .record_assignments(id, &[("m1".into(), "control".into())], at(0))
        .unwrap();
    let figures = store.experiment_figures(id).unwrap().unwrap();
    assert_eq!(figures.len(), 2);
    assert_eq!(figures[0].members, 1);
    assert_eq!(figures[0].impressions, 0);
    assert_eq!(figures[0].hours_sum, 0.0);
    assert_eq!(
        figures[1],
        ArmFigures {
            arm: "treatment".into(),
            ..ArmFigures::default()
        }
    );
}

backend_tests!(
    one_experiment_runs_at_a_time,
    the_first_assignment_stays,
    figures_count_between_assignment_and_stop,
    arms_nobody_joined_have_zeros,
);
