//! Who is calling and what they may do.
//!
//! Two kinds of credential arrive as `Authorization: Bearer <token>`: API keys (`sr_` and 64
//! hex digits; SHA-256 hashes kept in memory and reloaded from the store on every poll, so a
//! key made with `showrunner keys create` works within a poll interval; the keys are
//! high-entropy, so a slow password hash would add nothing) and operator session tokens
//! (`srs_` and 64 hex digits, from `POST /v1/auth/login`; looked up by hash in the store).
//! Both resolve to a [`Principal`] holding a set of permissions ([`Scope`]s): a key has its
//! one scope, a session its account [`Role`]'s.
//!
//! [`enforce`] is the one middleware that decides: it looks the matched route up in the
//! route table ([`crate::routes`]), answers 401 without a valid credential, 403 without the
//! permission, 429 past a rate limit, and hands the handler a [`Caller`] (principal and
//! client address) for its audit entries.

use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use showrunner_store::ApiKeyRecord;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::{self, Access};
use crate::throttle;

/// A permission. Keys hold one; roles hold a set; `admin` implies every other.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `POST /v1/events`.
    Ingest,
    /// Recommendations, home page, similar, trending.
    Read,
    /// Content analytics (`/v1/analytics/*`): aggregates, no personal data.
    Analytics,
    /// Monitoring, alerts and jobs (`/metrics`, `/v1/alerts/*`, `/v1/jobs/*`, ...).
    Operator,
    /// Everything, including accounts and the audit log.
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "analytics" => Some(Scope::Analytics),
            "operator" => Some(Scope::Operator),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Analytics => "analytics",
            Scope::Operator => "operator",
            Scope::Admin => "admin",
        }
    }

    /// Whether holding this permission lets a caller use a route needing `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
    }
}

/// An operator account's role.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Content analytics only: no member-level (personal) data.
    Analyst,
    /// Monitoring, alerts, jobs.
    Operator,
    /// What apps do: ingest and read (normally an API key, not a person).
    Service,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Analyst, Role::Operator, Role::Service];

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Analyst => "analyst",
            Role::Operator => "operator",
            Role::Service => "service",
        }
    }

    pub fn permissions(self) -> &'static [Scope] {
        match self {
            Role::Admin => &[Scope::Admin],
            Role::Analyst => &[Scope::Analytics],
            Role::Operator => &[Scope::Operator],
            Role::Service => &[Scope::Ingest, Scope::Read],
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An API key.
    Key { id: i64, scope: Scope },
    /// An operator's session.
    Session {
        account_id: i64,
        username: String,
        role: Role,
        token_hash: [u8; 32],
    },
}

impl Principal {
    pub fn permissions(&self) -> &'static [Scope] {
        match self {
            Principal::Key { scope, .. } => match scope {
                Scope::Ingest => &[Scope::Ingest],
                Scope::Read => &[Scope::Read],
                Scope::Analytics => &[Scope::Analytics],
                Scope::Operator => &[Scope::Operator],
                Scope::Admin => &[Scope::Admin],
            },
            Principal::Session { role, .. } => role.permissions(),
        }
    }

    pub fn allows(&self, needed: Scope) -> bool {
        self.permissions().iter().any(|p| p.allows(needed))
    }

    /// How the audit log names it: `key:<id>` or `account:<id>:<name>`.
    pub fn actor(&self) -> String {
        match self {
            Principal::Key { id, .. } => format!("key:{id}"),
            Principal::Session {
                account_id,
                username,
                ..
            } => format!("account:{account_id}:{username}"),
        }
    }
}

/// What the auth middleware hands every handler: the principal (none on open routes) and
/// the client's address (see [`throttle::client_ip`]).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Option<Principal>,
    pub ip: IpAddr,
}

impl Caller {
    /// The audit log's name for the caller (`anonymous` without a principal).
    pub fn actor(&self) -> String {
        self.principal
            .as_ref()
            .map_or_else(|| "anonymous".to_owned(), Principal::actor)
    }
}

/// A new key (`sr_` and 64 hex digits) and its hash. The key is shown once and never stored.
pub fn generate_key() -> (String, [u8; 32]) {
    let bytes: [u8; 32] = rand::random();
    let key: String = std::iter::once("sr_".to_owned())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    let hash = hash_key(&key);
    (key, hash)
}

/// A new session token (`srs_` and 64 hex digits: 256 random bits) and its hash.
pub fn generate_session_token() -> (Zeroizing<String>, [u8; 32]) {
    let mut bytes: Zeroizing<[u8; 32]> = Zeroizing::new(rand::random());
    let mut token = Zeroizing::new(String::with_capacity(68));
    token.push_str("srs_");
    for b in bytes.iter() {
        token.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        token.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    *bytes = [0; 32];
    let hash = hash_key(&token);
    (token, hash)
}

/// SHA-256 of a key or session token: what the store keeps.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Longest `Authorization` header looked at; longer is refused unread.
pub const MAX_AUTHORIZATION_BYTES: usize = 512;

/// Why an `Authorization` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    TooLong,
    /// Not `Bearer <token68>`.
    Malformed,
}

/// Parses an `Authorization` header value as `Bearer <token>` (scheme case-insensitive,
/// the token in RFC 6750's token68 alphabet). Never panics, whatever the bytes.
pub fn parse_authorization(value: &[u8]) -> Result<&str, BearerError> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(BearerError::TooLong);
    }
    let text = std::str::from_utf8(value).map_err(|_| BearerError::Malformed)?;
    let (scheme, rest) = text.split_once(' ').ok_or(BearerError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Malformed);
    }
    let token = rest.trim_matches(' ');
    let body = token.trim_end_matches('=');
    let token68 = !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    if token68 {
        Ok(token)
    } else {
        Err(BearerError::Malformed)
    }
}

/// The valid keys' ids, hashes and scopes.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: RwLock<Vec<(i64, [u8; 32], Scope)>>,
}

impl KeyRing {
    /// Replaces the keys with the store's (revoked keys and unknown scopes left out).
    pub fn replace(&self, records: &[ApiKeyRecord]) {
        let keys = records
            .iter()
            .filter(|r| !r.revoked)
            .filter_map(|r| Scope::parse(&r.scope).map(|s| (r.id, r.key_hash, s)))
            .collect();
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
    }

    /// The id and scope of a presented key. Every stored hash is compared in constant time,
    /// so the time taken says nothing about which bytes matched.
    pub fn lookup(&self, key: &str) -> Option<(i64, Scope)> {
        let hash = hash_key(key);
        let guard = self.keys.read().ok()?;
        let mut found = None;
        for (id, stored, scope) in guard.iter() {
            if bool::from(stored.ct_eq(&hash)) {
                found = Some((*id, *scope));
            }
        }
        found
    }

    pub fn scope_of(&self, key: &str) -> Option<Scope> {
        self.lookup(key).map(|(_, scope)| scope)
    }

    pub fn len(&self) -> usize {
        self.keys.read().map_or(0, |k| k.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn unauthorized(message: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

/// 429 `rate_limited` with `Retry-After` in whole seconds (at least 1).
pub fn too_many(wait: std::time::Duration, what: &str) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests {what}; retry after {seconds} s"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The body of a 403: what the route needs, never what the credential was.
fn forbidden(access: Access) -> Response {
    let message = match access {
        Access::Session => "this endpoint needs an operator session (POST /v1/auth/login)".into(),
        Access::Needs(scope) => format!(
            "this credential may not use this endpoint; it needs the {:?} permission",
            scope.as_str()
        ),
        _ => "this credential may not use this endpoint".into(),
    };
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message).into_response()
}

/// The auth middleware (see the module comment). Applied once to the whole router.
pub async fn enforce(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let access_state = state.access();
    let ip = throttle::client_ip(
        request.extensions().get::<ConnectInfo<SocketAddr>>(),
        request.headers(),
        access_state.trusted_proxies(),
    );
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        // The fallback (404): nothing to guard.
        request.extensions_mut().insert(Caller {
            principal: None,
            ip,
        });
        return next.run(request).await;
    };
    let access = match routes::access_for(request.method().as_str(), &path) {
        Some(access) => access,
        // Served under another method: let the router answer 405.
        None if routes::known_path(&path) => Access::Open,
        None => {
            tracing::error!(route = %path, "route missing from the route table: admin only");
            Access::Needs(Scope::Admin)
        }
    };
    let now = Instant::now();
    match access {
        Access::Open => {
            request.extensions_mut().insert(Caller {
                principal: None,
                ip,
            });
            return next.run(request).await;
        }
        Access::OpenThrottled => {
            if let Err(wait) = access_state.check_ip(ip, now) {
                return too_many(wait, "from this address to the auth endpoints");
            }
            request.extensions_mut().insert(Caller {
                principal: None,
                ip,
            });
            return next.run(request).await;
        }
        _ => {}
    }
    let anonymous = Caller {
        principal: None,
        ip,
    };
    let header = request.headers().get(header::AUTHORIZATION);
    let token = match header.map(|v| parse_authorization(v.as_bytes())) {
        None => {
            return unauthorized(
                "this endpoint needs a credential: Authorization: Bearer <API key or session token>",
            );
        }
        Some(Ok(token)) => Zeroizing::new(token.to_owned()),
        Some(Err(problem)) => {
            if let Err(wait) = access_state.check_ip(ip, now) {
                return too_many(wait, "with bad credentials from this address");
            }
            let reason = match problem {
                BearerError::TooLong => "oversized",
                BearerError::Malformed => "malformed",
            };
            crate::audit::audit_quietly(
                &state,
                &anonymous,
                "auth_failed",
                &path,
                "denied",
                serde_json::json!({"reason": reason}),
            )
            .await;
            return unauthorized("the Authorization header is not `Bearer <token>`");
        }
    };
    let principal = match access_state.authenticate(&state, &token).await {
        Ok(principal) => principal,
        Err(failure) => {
            if let crate::access::AuthFailure::Store(error) = failure {
                return error.into_response();
            }
            if let Err(wait) = access_state.check_ip(ip, now) {
                return too_many(wait, "with bad credentials from this address");
            }
            let (reason, message) = failure.describe();
            crate::audit::audit_quietly(
                &state,
                &anonymous,
                "auth_failed",
                &path,
                "denied",
                serde_json::json!({"reason": reason}),
            )
            .await;
            return unauthorized(message);
        }
    };
    if let Principal::Key { id, .. } = &principal
        && let Err(wait) = access_state.check_key(*id, now)
    {
        return too_many(wait, "with this API key");
    }
    let allowed = match access {
        Access::Authenticated => true,
        Access::Session => matches!(principal, Principal::Session { .. }),
        Access::Needs(scope) => principal.allows(scope),
        Access::Open | Access::OpenThrottled => true,
    };
    let caller = Caller {
        principal: Some(principal),
        ip,
    };
    if !allowed {
        crate::audit::audit_quietly(
            &state,
            &caller,
            "access_denied",
            &path,
            "denied",
            serde_json::json!({"method": request.method().as_str()}),
        )
        .await;
        return forbidden(access);
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// A per-route guard for routes outside the table's areas: lets a request through only when
/// [`enforce`] resolved a principal holding `needed`. The table is the normal way; this
/// stays for modules that layer their own check on top.
#[derive(Clone, Copy, Debug)]
pub struct Guard {
    pub needed: Scope,
}

/// Answers 401 without a principal, 403 without the guard's permission.
pub async fn require(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let principal = request
        .extensions()
        .get::<Caller>()
        .and_then(|c| c.principal.clone());
    match principal {
        None => unauthorized("this endpoint needs a credential"),
        Some(p) if !p.allows(guard.needed) => forbidden(Access::Needs(guard.needed)),
        Some(_) => next.run(request).await,
    }
}

/// What `GET /v1/auth/me` says about the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalBody {
    /// `key` or `session`.
    pub kind: &'static str,
    /// The key's or the account's id.
    pub id: i64,
    pub username: Option<String>,
    pub role: Option<Role>,
    pub permissions: Vec<Scope>,
}

impl From<&Principal> for PrincipalBody {
    fn from(principal: &Principal) -> Self {
        match principal {
            Principal::Key { id, .. } => PrincipalBody {
                kind: "key",
                id: *id,
                username: None,
                role: None,
                permissions: principal.permissions().to_vec(),
            },
            Principal::Session {
                account_id,
                username,
                role,
                ..
            } => PrincipalBody {
                kind: "session",
                id: *account_id,
                username: Some(username.clone()),
                role: Some(*role),
                permissions: principal.permissions().to_vec(),
            },
        }
    }
}
