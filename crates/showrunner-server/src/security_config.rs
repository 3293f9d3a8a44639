//! The `[security]` table of the server configuration: password hashing cost, session
//! lifetimes, login back-off and lock, rate limits, trusted proxies, CORS and HSTS. Each
//! setting has a `SHOWRUNNER_SECURITY_*` environment override (docs/security.md lists them).

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::throttle::Cidr;

/// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane. Lower settings are refused.
pub const ARGON2_MIN_MEMORY_KIB: u32 = 19 * 1024;
pub const ARGON2_MIN_ITERATIONS: u32 = 2;
/// The hard ceiling on consecutive failed logins an account accepts before it locks.
pub const MAX_LOCKOUT_FAILURES: u32 = 100;

/// Every security setting of `showrunner serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// Argon2id memory in KiB (at least 19456; `SHOWRUNNER_SECURITY_ARGON2_MEMORY_KIB`).
    pub argon2_memory_kib: u32,
    /// Argon2id passes (at least 2; `SHOWRUNNER_SECURITY_ARGON2_ITERATIONS`).
    pub argon2_iterations: u32,
    /// Argon2id lanes (`SHOWRUNNER_SECURITY_ARGON2_PARALLELISM`).
    pub argon2_parallelism: u32,
    /// A session unused for this long ends (`SHOWRUNNER_SECURITY_SESSION_IDLE_SECONDS`).
    pub session_idle_seconds: u64,
    /// A session ends this long after login whatever its use
    /// (`SHOWRUNNER_SECURITY_SESSION_ABSOLUTE_SECONDS`).
    pub session_absolute_seconds: u64,
    /// After n consecutive failures an account's next attempt waits
    /// `min(base * 2^(n-1), max)` (`SHOWRUNNER_SECURITY_LOGIN_BACKOFF_BASE_MS`).
    pub login_backoff_base_ms: u64,
    /// The longest back-off (`SHOWRUNNER_SECURITY_LOGIN_BACKOFF_MAX_SECONDS`).
    pub login_backoff_max_seconds: u64,
    /// Consecutive failures after which the account is locked until an admin resets it
    /// (at most 100; `SHOWRUNNER_SECURITY_LOGIN_LOCK_FAILURES`).
    pub login_lock_failures: u32,
    /// Requests to the auth routes (and failed authentications anywhere) a client IP may
    /// burst (`SHOWRUNNER_SECURITY_AUTH_IP_BURST`).
    pub auth_ip_burst: u32,
    /// ... and the rate its bucket leaks at (`SHOWRUNNER_SECURITY_AUTH_IP_PER_MINUTE`).
    pub auth_ip_per_minute: u32,
    /// Requests per second one API key may make; 0 turns the limit off
    /// (`SHOWRUNNER_SECURITY_KEY_RATE_PER_SECOND`).
    pub key_rate_per_second: u32,
    /// Requests one API key may burst (`SHOWRUNNER_SECURITY_KEY_BURST`).
    pub key_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed, as CIDRs (comma-separated in
    /// `SHOWRUNNER_SECURITY_TRUSTED_PROXIES`). Empty: the header is ignored.
    pub trusted_proxies: Vec<String>,
    /// Origins allowed to call the API from a browser (comma-separated in
    /// `SHOWRUNNER_SECURITY_CORS_ALLOWED_ORIGINS`). Empty: no CORS headers at all.
    pub cors_allowed_origins: Vec<String>,
    /// Send `Strict-Transport-Security`; only meaningful behind a TLS terminator
    /// (`SHOWRUNNER_SECURITY_HSTS`).
    pub hsts: bool,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            argon2_memory_kib: ARGON2_MIN_MEMORY_KIB,
            argon2_iterations: ARGON2_MIN_ITERATIONS,
            argon2_parallelism: 1,
            session_idle_seconds: 30 * 60,
            session_absolute_seconds: 12 * 3600,
            login_backoff_base_ms: 1_000,
            login_backoff_max_seconds: 15 * 60,
            login_lock_failures: MAX_LOCKOUT_FAILURES,
            auth_ip_burst: 20,
            auth_ip_per_minute: 60,
            key_rate_per_second: 5_000,
            key_burst: 10_000,
            trusted_proxies: Vec::new(),
            cors_allowed_origins: Vec::new(),
            hsts: false,
        }
    }
}

impl SecurityConfig {
    /// Checks the settings that could weaken the service; names the setting at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |setting: &str, problem: String| {
            Err(ConfigError::Invalid {
                setting: format!("security.{setting}"),
                problem,
            })
        };
        if self.argon2_memory_kib < ARGON2_MIN_MEMORY_KIB {
            return bad(
                "argon2_memory_kib",
                format!(
                    "{} is below the minimum {ARGON2_MIN_MEMORY_KIB}",
                    self.argon2_memory_kib
                ),
            );
        }
        if self.argon2_iterations < ARGON2_MIN_ITERATIONS {
            return bad(
                "argon2_iterations",
                format!(
                    "{} is below the minimum {ARGON2_MIN_ITERATIONS}",
                    self.argon2_iterations
                ),
            );
        }
        if !(1..=16).contains(&self.argon2_parallelism) {
            return bad("argon2_parallelism", "must be between 1 and 16".into());
        }
        if !(1..=MAX_LOCKOUT_FAILURES).contains(&self.login_lock_failures) {
            return bad(
                "login_lock_failures",
                format!("must be between 1 and {MAX_LOCKOUT_FAILURES}"),
            );
        }
        if self.session_idle_seconds == 0 || self.session_absolute_seconds == 0 {
            return bad(
                "session_idle_seconds",
                "session lifetimes must be positive".into(),
            );
        }
        if self.auth_ip_burst == 0 || self.auth_ip_per_minute == 0 {
            return bad(
                "auth_ip_burst",
                "the auth rate limit must be positive".into(),
            );
        }
        for proxy in &self.trusted_proxies {
            if let Err(problem) = proxy.parse::<Cidr>() {
                return bad("trusted_proxies", format!("{proxy:?}: {problem}"));
            }
        }
        for origin in &self.cors_allowed_origins {
            let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.ends_with('/')
                && origin.bytes().all(|b| b.is_ascii_graphic());
            if !ok {
                return bad(
                    "cors_allowed_origins",
                    format!("{origin:?} is not an origin like https://example.com"),
                );
            }
        }
        Ok(())
    }

    /// Applies one `SHOWRUNNER_SECURITY_*` variable (others are ignored).
    pub(crate) fn apply_env(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, ConfigError> {
            value.trim().parse().map_err(|_| ConfigError::Env {
                name: name.into(),
                value: value.into(),
                problem: "not a non-negative whole number".into(),
            })
        }
        fn list(value: &str) -> Vec<String> {
            value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect()
        }
        let Some(setting) = name.strip_prefix("SHOWRUNNER_SECURITY_") else {
            return Ok(());
        };
        match setting {
            "ARGON2_MEMORY_KIB" => self.argon2_memory_kib = number(name, value)?,
            "ARGON2_ITERATIONS" => self.argon2_iterations = number(name, value)?,
            "ARGON2_PARALLELISM" => self.argon2_parallelism = number(name, value)?,
            "SESSION_IDLE_SECONDS" => self.session_idle_seconds = number(name, value)?,
            "SESSION_ABSOLUTE_SECONDS" => self.session_absolute_seconds = number(name, value)?,
            "LOGIN_BACKOFF_BASE_MS" => self.login_backoff_base_ms = number(name, value)?,
            "LOGIN_BACKOFF_MAX_SECONDS" => self.login_backoff_max_seconds = number(name, value)?,
            "LOGIN_LOCK_FAILURES" => self.login_lock_failures = number(name, value)?,
            "AUTH_IP_BURST" => self.auth_ip_burst = number(name, value)?,
            "AUTH_IP_PER_MINUTE" => self.auth_ip_per_minute = number(name, value)?,
            "KEY_RATE_PER_SECOND" => self.key_rate_per_second = number(name, value)?,
            "KEY_BURST" => self.key_burst = number(name, value)?,
            "TRUSTED_PROXIES" => self.trusted_proxies = list(value),
            "CORS_ALLOWED_ORIGINS" => self.cors_allowed_origins = list(value),
            "HSTS" => {
                self.hsts = match value.trim() {
                    "1" | "true" | "yes" => true,
                    "0" | "false" | "no" => false,
                    _ => {
                        return Err(ConfigError::Env {
                            name: name.into(),
                            value: value.into(),
                            problem: "not true or false".into(),
                        });
                    }
                }
            }
            _ => {
                return Err(ConfigError::Env {
                    name: name.into(),
                    value: value.into(),
                    problem: "no such security setting".into(),
                });
            }
        }
        Ok(())
    }

    /// Login back-off after `failures` consecutive failures, in milliseconds.
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        if failures == 0 {
            return 0;
        }
        let doubled = self
            .login_backoff_base_ms
            .saturating_mul(1u64 << (failures - 1).min(40));
        doubled.min(self.login_backoff_max_seconds.saturating_mul(1000))
    }
}
