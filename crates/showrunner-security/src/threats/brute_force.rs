//! Brute force: many failed sign-ins on one account within a window, whatever their sources.
//! The finding opens when the failures in the window reach the threshold, collects every
//! later attempt on the account (so the evidence says whether one finally succeeded), and
//! closes after a window without failures.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use showrunner_model::{EventBody, LoginOutcome};

use super::{Detector, Evidence, is_failure, minutes};
use crate::{Finding, FindingKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    /// How far back failures on an account are counted, in minutes.
    pub window_minutes: i64,
    /// Failures on one account within the window that open a finding.
    pub min_failures: usize,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        BruteForceConfig {
            window_minutes: 10,
            min_failures: 10,
        }
    }
}

struct Open {
    evidence: Evidence,
    last_failure: i64,
    failures: u64,
    succeeded: bool,
    trigger: String,
}

#[derive(Default)]
struct AccountState {
    failures: VecDeque<(i64, showrunner_model::Login)>,
    open: Option<Open>,
}

pub struct BruteForceDetector {
    config: BruteForceConfig,
    cap: usize,
    accounts: HashMap<String, AccountState>,
    next_sweep: i64,
}

impl BruteForceDetector {
    pub fn new(config: BruteForceConfig, cap: usize) -> BruteForceDetector {
        BruteForceDetector {
            config,
            cap,
            accounts: HashMap::new(),
            next_sweep: i64::MIN,
        }
    }

    fn close(open: Open) -> Finding {
        let reason = format!(
            "{} failed sign-ins on one account from {} IPs over {} min; opened when {}{}",
            open.failures,
            open.evidence.ips.len(),
            (open.evidence.end - open.evidence.start) / minutes(1),
            open.trigger,
            if open.succeeded {
                "; then a sign-in succeeded"
            } else {
                ""
            }
        );
        open.evidence
            .into_finding(FindingKind::BruteForce, String::new(), reason)
    }

    fn sweep(&mut self, now: i64, out: &mut Vec<Finding>) {
        let window_ms = minutes(self.config.window_minutes);
        self.accounts.retain(|_, state| {
            while state
                .failures
                .front()
                .is_some_and(|(ts, _)| *ts <= now - window_ms)
            {
                state.failures.pop_front();
            }
            if state
                .open
                .as_ref()
                .is_some_and(|open| now - open.last_failure > window_ms)
                && let Some(open) = state.open.take()
            {
                out.push(BruteForceDetector::close(open));
            }
            !state.failures.is_empty() || state.open.is_some()
        });
    }
}

impl Detector for BruteForceDetector {
    fn name(&self) -> &'static str {
        "brute_force"
    }

    fn observe(&mut self, ts: i64, event: &EventBody, out: &mut Vec<Finding>) {
        let EventBody::Login(login) = event else {
            return;
        };
        if ts >= self.next_sweep {
            self.sweep(ts, out);
            self.next_sweep = ts + minutes(1);
        }
        let window_ms = minutes(self.config.window_minutes);
        let failed = is_failure(login.outcome);
        if !failed && !self.accounts.contains_key(&login.account) {
            return;
        }
        let state = self.accounts.entry(login.account.clone()).or_default();
        if state
            .open
            .as_ref()
            .is_some_and(|open| ts - open.last_failure > window_ms)
            && let Some(open) = state.open.take()
        {
            out.push(BruteForceDetector::close(open));
        }
        if let Some(open) = &mut state.open {
            open.evidence.add(ts, login, self.cap);
            if failed {
                open.failures += 1;
                open.last_failure = ts;
            } else if login.outcome == LoginOutcome::Success {
                open.succeeded = true;
            }
            return;
        }
        if !failed {
            return;
        }
        state.failures.push_back((ts, login.clone()));
        while state
            .failures
            .front()
            .is_some_and(|(first, _)| *first <= ts - window_ms)
        {
            state.failures.pop_front();
        }
        if state.failures.len() >= self.config.min_failures {
            let mut evidence = Evidence::new(ts);
            for (at, attempt) in state.failures.drain(..) {
                evidence.add(at, &attempt, self.cap);
            }
            state.open = Some(Open {
                failures: evidence.events,
                evidence,
                last_failure: ts,
                succeeded: false,
                trigger: format!(
                    "{} failures came within {} min",
                    self.config.min_failures, self.config.window_minutes
                ),
            });
        }
    }

    fn finish(&mut self, out: &mut Vec<Finding>) {
        let mut closed: Vec<Finding> = self
            .accounts
            .drain()
            .filter_map(|(_, state)| state.open.map(BruteForceDetector::close))
            .collect();
        closed.sort_by(|a, b| (a.start, &a.accounts).cmp(&(b.start, &b.accounts)));
        out.extend(closed);
    }
}
