//! The detectors on a small synthetic platform: every planted attack is found and the
//! findings name little else.

use std::collections::BTreeSet;
use std::io::BufRead;
use std::sync::atomic::AtomicBool;

use showrunner_model::{Event, EventBody};
use showrunner_security::eval::{Labels, score};
use showrunner_security::{FindingKind, SecurityConfig, scan};
use showrunner_synth::{SynthConfig, Truth, generate};

#[test]
fn finds_the_planted_attacks_of_a_small_platform() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SynthConfig {
        seed: 5,
        events: 100_000,
        ..SynthConfig::default()
    };
    let output = generate(&config, dir.path(), &|_| {}, &AtomicBool::new(false)).expect("synth");
    let truth: Truth =
        serde_json::from_str(&std::fs::read_to_string(&output.truth_path).expect("truth.json"))
            .expect("parse truth");
    let file = std::fs::File::open(&output.events_path).expect("events");
    let mut events: Vec<Event> = std::io::BufReader::new(file)
        .lines()
        .map(|line| serde_json::from_str::<Event>(&line.expect("line")).expect("event"))
        .filter(|event| matches!(event.body, EventBody::Login(_) | EventBody::Play(_)))
        .collect();
    events.sort_by_key(|event| event.ts);
    let findings = scan(&SecurityConfig::default(), &events);

    let stuffing = &truth.credential_stuffing;
    let mut takeover: BTreeSet<String> = stuffing
        .successful_accounts
        .iter()
        .map(|account| account.account.clone())
        .collect();
    if truth.brute_force.succeeded {
        takeover.insert(truth.brute_force.account.clone());
    }
    if let Some(spraying) = &truth.password_spraying {
        takeover.extend(
            spraying
                .successful_accounts
                .iter()
                .map(|account| account.account.clone()),
        );
    }
    let labels = Labels {
        stuffing_ips: stuffing.attacker_ips.iter().cloned().collect(),
        spraying_ips: truth
            .password_spraying
            .iter()
            .flat_map(|spraying| spraying.ips.iter().cloned())
            .collect(),
        brute_force_accounts: [truth.brute_force.account.clone()].into(),
        travel_also: takeover.clone(),
        takeover_accounts: takeover,
        takeover_also: truth
            .impossible_travel
            .iter()
            .map(|pair| pair.account.clone())
            .collect(),
        travel_accounts: truth
            .impossible_travel
            .iter()
            .map(|pair| pair.account.clone())
            .collect(),
        shared_accounts: truth
            .shared_accounts
            .iter()
            .map(|shared| (shared.account.clone(), shared.member_id.clone()))
            .collect(),
    };
    // A shared account's first sign-in from its household in another country, days after
    // the account was learned, looks like takeover and travel at that moment: the one known
    // confusion (docs/security.md).
    let shared: BTreeSet<&String> = truth
        .shared_accounts
        .iter()
        .map(|shared| &shared.account)
        .collect();
    for item in score(&findings, &labels) {
        // The wave of a platform this small is 400 attempts from 33 IPs over one to two
        // hours: an IP with only a few attempts may stay under every threshold. (The
        // spraying, 100 attempts on 50 accounts, must be found whole.)
        let floor =
            if item.kind == FindingKind::CredentialStuffing && item.name != "password_spraying" {
                0.9
            } else {
                1.0
            };
        let unexplained: Vec<&String> = item
            .false_positives
            .iter()
            .filter(|unit| {
                !(matches!(
                    item.kind,
                    FindingKind::AccountTakeover | FindingKind::ImpossibleTravel
                ) && shared.contains(unit))
            })
            .collect();
        assert!(
            item.recall().unwrap_or(1.0) >= floor && unexplained.is_empty(),
            "{}: recall {:?}, false positives {:?}, missed {:?}",
            item.name,
            item.recall(),
            item.false_positives,
            item.missed
        );
    }
}
