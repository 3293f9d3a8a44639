//! Scoring findings against known incidents (a synthetic platform's `truth.json`, turned
//! into [`Labels`] by the caller): precision and recall per finding kind, each counted over
//! the units its findings name.
//!
//! - credential stuffing: attacker IPs of the fast wave and of the low-and-slow spraying (an
//!   IP listed by any stuffing finding is predicted), with the recall of each shown apart;
//! - brute force, account takeover, impossible travel: accounts;
//! - account sharing: shared accounts, a finding naming either the login account or the
//!   member id of one counting once.
//!
//! Some units are known to be suspicious without being labelled as the kind: the
//! impossible-travel account's foreign sign-in is also a takeover signal, and an attacker's
//! successful sign-in from a distant data centre shortly after the member's own is also
//! impossible travel. Those listed in `*_also` count neither for nor against precision.

use std::collections::BTreeSet;

use crate::{Finding, FindingKind};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    /// The fast wave's IPs.
    pub stuffing_ips: BTreeSet<String>,
    /// The low-and-slow spraying's IPs (also credential stuffing findings' business).
    pub spraying_ips: BTreeSet<String>,
    pub brute_force_accounts: BTreeSet<String>,
    pub takeover_accounts: BTreeSet<String>,
    pub takeover_also: BTreeSet<String>,
    pub travel_accounts: BTreeSet<String>,
    pub travel_also: BTreeSet<String>,
    /// (login account, member id) of each shared account.
    pub shared_accounts: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub kind: FindingKind,
    /// The kind's name, or for the recall-only rows `stuffing_wave` / `password_spraying`.
    pub name: &'static str,
    /// Labelled units.
    pub truth: usize,
    /// Distinct units the findings name (minus the tolerated ones).
    pub predicted: usize,
    pub true_positives: usize,
    /// The predicted units that are not labelled (for reports).
    pub false_positives: Vec<String>,
    /// The labelled units no finding names.
    pub missed: Vec<String>,
}

impl Score {
    /// `None` when nothing was predicted.
    pub fn precision(&self) -> Option<f64> {
        (self.predicted > 0).then(|| self.true_positives as f64 / self.predicted as f64)
    }

    /// `None` when nothing was labelled.
    pub fn recall(&self) -> Option<f64> {
        (self.truth > 0).then(|| self.true_positives as f64 / self.truth as f64)
    }
}

fn score_sets(
    kind: FindingKind,
    predicted: BTreeSet<String>,
    truth: &BTreeSet<String>,
    also: &BTreeSet<String>,
) -> Score {
    let predicted: BTreeSet<String> = predicted
        .into_iter()
        .filter(|unit| truth.contains(unit) || !also.contains(unit))
        .collect();
    let true_positives = predicted.intersection(truth).count();
    Score {
        kind,
        name: kind.as_str(),
        truth: truth.len(),
        predicted: predicted.len(),
        true_positives,
        false_positives: predicted.difference(truth).cloned().collect(),
        missed: truth.difference(&predicted).cloned().collect(),
    }
}

fn named(findings: &[Finding], kind: FindingKind, ips: bool) -> BTreeSet<String> {
    findings
        .iter()
        .filter(|finding| finding.kind == kind)
        .flat_map(|finding| {
            if ips {
                finding.ips.iter()
            } else {
                finding.accounts.iter()
            }
        })
        .cloned()
        .collect()
}

/// A row with only the recall of one incident among a kind's findings.
fn recall_only(name: &'static str, score: Score, truth: &BTreeSet<String>) -> Score {
    let all_missed: BTreeSet<&String> = score.missed.iter().collect();
    let missed: Vec<String> = truth
        .iter()
        .filter(|unit| all_missed.contains(unit))
        .cloned()
        .collect();
    Score {
        name,
        truth: truth.len(),
        predicted: 0,
        true_positives: truth.len() - missed.len(),
        false_positives: Vec::new(),
        missed,
        ..score
    }
}

/// One score per finding kind, in [`FindingKind::ALL`] order; after credential stuffing
/// (scored over the wave's and the spraying's IPs together), the recall of each of the two.
pub fn score(findings: &[Finding], labels: &Labels) -> Vec<Score> {
    let none = BTreeSet::new();
    let attack_ips: BTreeSet<String> = labels
        .stuffing_ips
        .union(&labels.spraying_ips)
        .cloned()
        .collect();
    let stuffing = score_sets(
        FindingKind::CredentialStuffing,
        named(findings, FindingKind::CredentialStuffing, true),
        &attack_ips,
        &none,
    );
    let mut scores = vec![
        stuffing.clone(),
        recall_only("stuffing_wave", stuffing.clone(), &labels.stuffing_ips),
        recall_only("password_spraying", stuffing, &labels.spraying_ips),
        score_sets(
            FindingKind::BruteForce,
            named(findings, FindingKind::BruteForce, false),
            &labels.brute_force_accounts,
            &none,
        ),
        score_sets(
            FindingKind::AccountTakeover,
            named(findings, FindingKind::AccountTakeover, false),
            &labels.takeover_accounts,
            &labels.takeover_also,
        ),
        score_sets(
            FindingKind::ImpossibleTravel,
            named(findings, FindingKind::ImpossibleTravel, false),
            &labels.travel_accounts,
            &labels.travel_also,
        ),
    ];
    // Sharing: name each unit by its shared account's login, whichever key the finding used.
    let canonical = |key: &String| {
        labels
            .shared_accounts
            .iter()
            .find(|(account, member)| account == key || member == key)
            .map_or_else(|| key.clone(), |(account, _)| account.clone())
    };
    let predicted: BTreeSet<String> = named(findings, FindingKind::AccountSharing, false)
        .iter()
        .map(canonical)
        .collect();
    let truth: BTreeSet<String> = labels
        .shared_accounts
        .iter()
        .map(|(account, _)| account.clone())
        .collect();
    scores.push(score_sets(
        FindingKind::AccountSharing,
        predicted,
        &truth,
        &none,
    ));
    scores
}
