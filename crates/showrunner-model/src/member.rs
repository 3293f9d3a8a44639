//! Members (accounts, i.e. households) and their profiles. Fields holding personal data are
//! wrapped in [`Personal`] so they are visible as such in the type and never printed by
//! `Debug`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::MaturityLevel;
use crate::time::Timestamp;

/// A value that is personal data (GDPR): an email, a name, an IP address. `Debug` prints
/// `<personal>` instead of the value so it cannot leak into logs by accident; the value is
/// reachable only through [`Personal::expose`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Personal<T>(T);

impl<T> Personal<T> {
    pub fn new(value: T) -> Self {
        Personal(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Personal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<personal>")
    }
}

/// One viewer inside an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Personal<String>>,
    /// The most mature band this profile may be shown.
    pub maturity: MaturityLevel,
}

/// An account: the household that pays, with one or more profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Personal<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Personal<String>>,
    /// ISO 3166-1 alpha-2 country of the account. Absent only for members known from
    /// public rating datasets, which carry no account data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signup_at: Option<Timestamp>,
    /// The plan as the service names it (`basic`, `standard`, `premium`, `ads`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<Profile>,
}

impl Member {
    /// A member known only by id (from a ratings file with no account data).
    pub fn bare(id: impl Into<String>) -> Self {
        Member {
            id: id.into(),
            email: None,
            name: None,
            country: None,
            signup_at: None,
            plan: None,
            profiles: Vec::new(),
        }
    }
}
