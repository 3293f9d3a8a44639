//! API keys: making them (256 random bits, shown once), hashing them (SHA-256: the keys
//! are high-entropy, so a slow password hash would add nothing), and the Bearer middleware
//! that lets a request through only with a key holding the route's scope. The server keeps
//! the hashes in memory and reloads them from the store on every poll, so a key made with
//! `showrunner keys create` works within a poll interval.

use std::sync::RwLock;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use showrunner_store::ApiKeyRecord;

/// What a key may do. `admin` may do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// `POST /v1/events`.
    Ingest,
    /// Recommendations, home page, similar, trending.
    Read,
    /// Monitoring: alerts, history, silences, series, the notification log.
    Operator,
    /// Everything, including `/metrics`.
    Admin,
}

impl Scope {
    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "ingest" => Some(Scope::Ingest),
            "read" => Some(Scope::Read),
            "operator" => Some(Scope::Operator),
            "admin" => Some(Scope::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Ingest => "ingest",
            Scope::Read => "read",
            Scope::Operator => "operator",
            Scope::Admin => "admin",
        }
    }

    /// Whether a key of this scope may use a route needing `needed`.
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || self == needed
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

pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The valid keys' hashes and scopes.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: RwLock<Vec<([u8; 32], Scope)>>,
}

impl KeyRing {
    /// Replaces the keys with the store's (revoked keys and unknown scopes left out).
    pub fn replace(&self, records: &[ApiKeyRecord]) {
        let keys = records
            .iter()
            .filter(|r| !r.revoked)
            .filter_map(|r| Scope::parse(&r.scope).map(|s| (r.key_hash, s)))
            .collect();
        if let Ok(mut guard) = self.keys.write() {
            *guard = keys;
        }
    }

    /// The scope of a presented key. Every stored hash is compared in constant time, so the
    /// time taken says nothing about which bytes matched.
    pub fn scope_of(&self, key: &str) -> Option<Scope> {
        let hash = hash_key(key);
        let guard = self.keys.read().ok()?;
        let mut found = None;
        for (stored, scope) in guard.iter() {
            if bool::from(stored.ct_eq(&hash)) {
                found = Some(*scope);
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.keys.read().map_or(0, |k| k.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The per-route guard's state: the key ring and the scope the route needs.
#[derive(Clone)]
pub struct Guard {
    pub keys: std::sync::Arc<KeyRing>,
    pub needed: Scope,
}

/// Answers 401 `unauthorized` without a valid Bearer key, 403 `forbidden` with a key
/// lacking the route's scope.
pub async fn require(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(key) = presented.filter(|k| !k.is_empty()) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs an API key: Authorization: Bearer <key>",
        )
        .into_response();
    };
    match guard.keys.scope_of(key) {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the API key is not valid",
        )
        .into_response(),
        Some(scope) if !scope.allows(guard.needed) => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "a key with scope {:?} may not use this endpoint; it needs {:?}",
                scope.as_str(),
                guard.needed.as_str()
            ),
        )
        .into_response(),
        Some(_) => next.run(request).await,
    }
}
