//! Scoring findings against known incidents (a synthetic platform's `truth.json`, turned
//! into [`Labels`] by the caller): precision and recall per finding kind, each counted over
//! the units its findings name.
//!
//! - credential stuffing: attacker IPs (an IP listed by any stuffing finding is predicted);
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
    pub stuffing_ips: BTreeSet<String>,
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

/// One score per finding kind, in [`FindingKind::ALL`] order.
pub fn score(findings: &[Finding], labels: &Labels) -> Vec<Score> {
    let none = BTreeSet::new();
    let mut scores = vec![
        score_sets(
            FindingKind::CredentialStuffing,
            named(findings, FindingKind::CredentialStuffing, true),
            &labels.stuffing_ips,
            &none,
        ),
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
