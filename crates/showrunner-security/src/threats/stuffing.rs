//! Credential stuffing and password spraying: one source failing sign-ins across many
//! distinct accounts within a window. Sources are looked at on four levels: the ASN (catches
//! low-and-slow spraying from many IPs of one network, each trying a few times), the /24
//! subnet, the single IP, and the user agent over hours (a script spraying through
//! residential proxies in many networks). A source opens a finding when the distinct
//! accounts failing from it within the level's window reach the level's threshold and most
//! of its attempts fail (ordinary networks, where typos are a few percent of sign-ins, never
//! do); while open, every attempt from it is added to the evidence (from a network only the
//! failures: members share it), and the finding closes after a window without failures. An
//! attempt already held by an open finding on any level opens no other, and a new one opens
//! on the coarsest level whose thresholds it crosses, so one wave gives about one finding per
//! network rather than one per IP and subnet.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use showrunner_model::{EventBody, Login};

use super::{Detector, Evidence, is_failure, minutes, subnet_of};
use crate::{Finding, FindingKind};

/// Thresholds of one source level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelConfig {
    /// How far back attempts are counted, in minutes.
    pub window_minutes: i64,
    /// Distinct accounts failing from the source within the window that open a finding.
    pub min_accounts: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StuffingConfig {
    pub asn: LevelConfig,
    pub subnet: LevelConfig,
    pub ip: LevelConfig,
    pub user_agent: LevelConfig,
    /// The share of the source's attempts in the window that must have failed.
    pub min_failure_ratio: f64,
}

impl Default for StuffingConfig {
    fn default() -> Self {
        StuffingConfig {
            asn: LevelConfig {
                window_minutes: 10,
                min_accounts: 10,
            },
            subnet: LevelConfig {
                window_minutes: 60,
                min_accounts: 8,
            },
            ip: LevelConfig {
                window_minutes: 60,
                min_accounts: 5,
            },
            user_agent: LevelConfig {
                window_minutes: 360,
                min_accounts: 30,
            },
            min_failure_ratio: 0.6,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Asn(u32),
    Subnet(String),
    Ip(String),
    Agent(String),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::Asn(asn) => format!("asn {asn}"),
            Source::Subnet(subnet) => format!("subnet {subnet}"),
            Source::Ip(ip) => format!("ip {ip}"),
            Source::Agent(agent) => format!("user_agent {agent}"),
        }
    }
}

struct Attempt {
    ts: i64,
    login: Arc<Login>,
    failed: bool,
}

struct Open {
    evidence: Evidence,
    trigger: String,
    last_failure: i64,
}

#[derive(Default)]
struct SourceState {
    window: VecDeque<Attempt>,
    failed_accounts: HashMap<String, u32>,
    failures: usize,
    open: Option<Open>,
}

impl SourceState {
    fn push(&mut self, attempt: Attempt, window_ms: i64) {
        if attempt.failed {
            self.failures += 1;
            *self
                .failed_accounts
                .entry(attempt.login.account.clone())
                .or_insert(0) += 1;
        }
        let now = attempt.ts;
        self.window.push_back(attempt);
        self.expire(now, window_ms);
    }

    fn expire(&mut self, now: i64, window_ms: i64) {
        while let Some(oldest) = self.window.front() {
            if oldest.ts > now - window_ms {
                break;
            }
            if oldest.failed {
                self.failures -= 1;
                if let Some(count) = self.failed_accounts.get_mut(&oldest.login.account) {
                    *count -= 1;
                    if *count == 0 {
                        self.failed_accounts.remove(&oldest.login.account);
                    }
                }
            }
            self.window.pop_front();
        }
    }
}

pub struct StuffingDetector {
    config: StuffingConfig,
    cap: usize,
    sources: HashMap<Source, SourceState>,
    next_sweep: i64,
}

impl StuffingDetector {
    pub fn new(config: StuffingConfig, cap: usize) -> StuffingDetector {
        StuffingDetector {
            config,
            cap,
            sources: HashMap::new(),
            next_sweep: i64::MIN,
        }
    }

    fn level(&self, source: &Source) -> &LevelConfig {
        match source {
            Source::Asn(_) => &self.config.asn,
            Source::Subnet(_) => &self.config.subnet,
            Source::Ip(_) => &self.config.ip,
            Source::Agent(_) => &self.config.user_agent,
        }
    }

    fn close(source: &Source, open: Open) -> Finding {
        let Open {
            evidence, trigger, ..
        } = open;
        let reason = format!(
            "{} sign-in attempts on {} accounts from {} IPs over {} min; opened when {trigger}",
            evidence.events,
            evidence.accounts.len() as u64 + evidence.account_overflow,
            evidence.ips.len(),
            (evidence.end - evidence.start) / minutes(1),
        );
        evidence.into_finding(FindingKind::CredentialStuffing, source.describe(), reason)
    }

    /// Closes open findings quiet for a window and drops sources with nothing in theirs.
    fn sweep(&mut self, now: i64, out: &mut Vec<Finding>) {
        let config = self.config.clone();
        self.sources.retain(|source, state| {
            let window_ms = minutes(match source {
                Source::Asn(_) => config.asn.window_minutes,
                Source::Subnet(_) => config.subnet.window_minutes,
                Source::Ip(_) => config.ip.window_minutes,
                Source::Agent(_) => config.user_agent.window_minutes,
            });
            state.expire(now, window_ms);
            if state
                .open
                .as_ref()
                .is_some_and(|open| now - open.last_failure > window_ms)
                && let Some(open) = state.open.take()
            {
                out.push(StuffingDetector::close(source, open));
            }
            !state.window.is_empty() || state.open.is_some()
        });
    }
}

impl Detector for StuffingDetector {
    fn name(&self) -> &'static str {
        "credential_stuffing"
    }

    fn observe(&mut self, ts: i64, event: &EventBody, out: &mut Vec<Finding>) {
        let EventBody::Login(login) = event else {
            return;
        };
        if ts >= self.next_sweep {
            self.sweep(ts, out);
            self.next_sweep = ts + minutes(1);
        }
        let failed = is_failure(login.outcome);
        let login = Arc::new(login.clone());
        let mut sources = Vec::with_capacity(4);
        if let Some(asn) = login.asn {
            sources.push(Source::Asn(asn));
        }
        if let Some(subnet) = subnet_of(&login.ip) {
            sources.push(Source::Subnet(subnet));
        }
        sources.push(Source::Ip(login.ip.clone()));
        if let Some(agent) = &login.user_agent {
            sources.push(Source::Agent(agent.clone()));
        }
        // First every level sees the attempt, and the open findings holding it take it.
        let mut covered = false;
        for source in &sources {
            let window_ms = minutes(self.level(source).window_minutes);
            let state = self.sources.entry(source.clone()).or_default();
            // A finding quiet for a whole window is over; this attempt starts afresh.
            if state
                .open
                .as_ref()
                .is_some_and(|open| ts - open.last_failure > window_ms)
                && let Some(open) = state.open.take()
            {
                out.push(StuffingDetector::close(source, open));
            }
            state.push(
                Attempt {
                    ts,
                    login: Arc::clone(&login),
                    failed,
                },
                window_ms,
            );
            // A network (ASN, subnet) is shared with ordinary members: only its failures are
            // evidence. An IP's or a script's successes are the attack's own.
            let shared = matches!(source, Source::Asn(_) | Source::Subnet(_));
            if let Some(open) = &mut state.open {
                if failed || !shared {
                    open.evidence.add(ts, &login, self.cap);
                    covered = true;
                }
                if failed {
                    open.last_failure = ts;
                }
            }
        }
        // Then a failure no finding holds may open one, on the coarsest level whose
        // thresholds it crosses (the user agent last: it is for spraying no network sees).
        if covered || !failed {
            return;
        }
        for source in sources {
            let level = self.level(&source).clone();
            let shared = matches!(source, Source::Asn(_) | Source::Subnet(_));
            let Some(state) = self.sources.get_mut(&source) else {
                continue;
            };
            let accounts = state.failed_accounts.len();
            let ratio = state.failures as f64 / state.window.len().max(1) as f64;
            if accounts >= level.min_accounts && ratio >= self.config.min_failure_ratio {
                let mut evidence = Evidence::new(ts);
                for attempt in state.window.iter().filter(|a| a.failed || !shared) {
                    evidence.add(attempt.ts, &attempt.login, self.cap);
                }
                state.open = Some(Open {
                    evidence,
                    trigger: format!(
                        "{accounts} distinct accounts failed within {} min ({:.0}% of {} attempts failed)",
                        level.window_minutes,
                        ratio * 100.0,
                        state.window.len()
                    ),
                    last_failure: ts,
                });
                break;
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<Finding>) {
        let mut closed: Vec<Finding> = self
            .sources
            .drain()
            .filter_map(|(source, state)| {
                state
                    .open
                    .map(|open| StuffingDetector::close(&source, open))
            })
            .collect();
        closed.sort_by(|a, b| (a.start, &a.source).cmp(&(b.start, &b.source)));
        out.extend(closed);
    }
}
