//! The route table: what every route needs. The auth middleware ([`crate::auth::enforce`])
//! looks each matched route up here, the OpenAPI document takes its security requirements
//! from here, and a test walks the whole table against every role and key scope. A route
//! that is served but missing from the table is admin-only (fail closed) and logged.
//!
//! Rules ending in `/*` cover every route under a prefix, so the analytics, monitoring and
//! jobs routes are guarded by what their area needs the moment they are added.

use crate::auth::Scope;

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Open,
    /// Anyone, within the per-IP leaky bucket of the auth routes (login).
    OpenThrottled,
    /// Any valid credential: an API key or an operator session.
    Authenticated,
    /// An operator session (not an API key).
    Session,
    /// A credential holding this permission (`admin` holds them all).
    Needs(Scope),
}

/// One route (or prefix) and what it needs.
#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    /// As the router spells it (`/v1/members/{id}/home`), or a prefix ending in `/*`.
    pub path: &'static str,
    pub access: Access,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> RouteRule {
    RouteRule {
        method,
        path,
        access,
    }
}

use Access::{Authenticated, Needs, Open, OpenThrottled, Session};

/// Every route the service serves.
pub const ROUTES: &[RouteRule] = &[
    rule("GET", "/healthz", Open),
    rule("GET", "/readyz", Open),
    rule("GET", "/openapi.json", Open),
    rule("POST", "/v1/events", Needs(Scope::Ingest)),
    rule(
        "GET",
        "/v1/members/{id}/recommendations",
        Needs(Scope::Read),
    ),
    rule("GET", "/v1/members/{id}/home", Needs(Scope::Read)),
    rule("GET", "/v1/titles/{id}/similar", Needs(Scope::Read)),
    rule("GET", "/v1/trending", Needs(Scope::Read)),
    rule("GET", "/metrics", Needs(Scope::Operator)),
    rule("POST", "/v1/auth/login", OpenThrottled),
    rule("POST", "/v1/auth/logout", Session),
    rule("GET", "/v1/auth/me", Authenticated),
    rule("GET", "/v1/accounts", Needs(Scope::Admin)),
    rule("POST", "/v1/accounts", Needs(Scope::Admin)),
    rule("PATCH", "/v1/accounts/{id}", Needs(Scope::Admin)),
    rule("GET", "/v1/audit", Needs(Scope::Admin)),
    rule("GET", "/v1/security/findings", Needs(Scope::Operator)),
    rule("GET", "/docs", Open),
    rule("GET", "/v1/jobs", Needs(Scope::Operator)),
    rule("GET", "/v1/monitor/alerts", Needs(Scope::Operator)),
    rule("GET", "/v1/monitor/alerts/history", Needs(Scope::Operator)),
    rule("GET", "/v1/monitor/silences", Needs(Scope::Operator)),
    rule("POST", "/v1/monitor/silences", Needs(Scope::Operator)),
    rule(
        "DELETE",
        "/v1/monitor/silences/{id}",
        Needs(Scope::Operator),
    ),
    rule("GET", "/v1/monitor/series", Needs(Scope::Operator)),
    rule("GET", "/v1/monitor/notifications", Needs(Scope::Operator)),
    rule("POST", "/v1/monitor/push", Needs(Scope::Ingest)),
    rule("GET", "/v1/models", Needs(Scope::Operator)),
    rule(
        "POST",
        "/v1/models/{version}/shadow",
        Needs(Scope::Operator),
    ),
    rule("GET", "/v1/models/shadow", Needs(Scope::Operator)),
    rule("DELETE", "/v1/models/shadow", Needs(Scope::Operator)),
    rule("GET", "/v1/experiments", Needs(Scope::Operator)),
    rule("POST", "/v1/experiments", Needs(Scope::Operator)),
    rule("GET", "/v1/experiments/{id}", Needs(Scope::Operator)),
    rule("POST", "/v1/experiments/{id}/stop", Needs(Scope::Operator)),
    rule("PUT", "/v1/titles/{id}", Needs(Scope::Admin)),
    rule("PATCH", "/v1/titles/{id}", Needs(Scope::Admin)),
    rule("GET", "/v1/titles/{id}", Needs(Scope::Admin)),
    rule("DELETE", "/v1/titles/{id}", Needs(Scope::Admin)),
    rule("POST", "/v1/titles:bulk", Needs(Scope::Admin)),
    rule("PUT", "/v1/members/{id}", Needs(Scope::Admin)),
    rule("PATCH", "/v1/members/{id}", Needs(Scope::Admin)),
    rule("GET", "/v1/members/{id}", Needs(Scope::Admin)),
    rule("DELETE", "/v1/members/{id}", Needs(Scope::Admin)),
    rule("POST", "/v1/members:bulk", Needs(Scope::Admin)),
    rule("GET", "/v1/metrics/take-rate", Needs(Scope::Analytics)),
    rule("GET", "/v1/analytics/report", Needs(Scope::Analytics)),
    rule("GET", "/v1/analytics/titles/{id}", Needs(Scope::Analytics)),
    rule("GET", "/v1/analytics/trending", Needs(Scope::Analytics)),
    rule("GET", "/v1/analytics/supply", Needs(Scope::Analytics)),
    // Areas other modules add routes to.
    rule("*", "/v1/analytics/*", Needs(Scope::Analytics)),
    rule("*", "/v1/alerts/*", Needs(Scope::Operator)),
    rule("*", "/v1/jobs/*", Needs(Scope::Operator)),
    rule("*", "/v1/monitor/*", Needs(Scope::Operator)),
    rule("*", "/v1/security/*", Needs(Scope::Operator)),
];

/// What a matched route (`method`, router path) needs: an exact rule first, then the
/// longest matching prefix rule. `None` when the table has nothing for it.
pub fn access_for(method: &str, path: &str) -> Option<Access> {
    if let Some(exact) = ROUTES.iter().find(|r| r.method == method && r.path == path) {
        return Some(exact.access);
    }
    ROUTES
        .iter()
        .filter_map(|r| {
            let prefix = r.path.strip_suffix('*')?;
            let method_ok = r.method == "*" || r.method == method;
            (method_ok && (path.starts_with(prefix) || path == prefix.trim_end_matches('/')))
                .then_some((prefix.len(), r.access))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, access)| access)
}

/// Whether the table knows `path` under some other method (so the router's 405 can answer).
pub fn known_path(path: &str) -> bool {
    ROUTES.iter().any(|r| r.path == path)
}

/// The exact (non-prefix) rules: the routes this crate serves.
pub fn exact_routes() -> impl Iterator<Item = &'static RouteRule> {
    ROUTES.iter().filter(|r| !r.path.ends_with('*'))
}
