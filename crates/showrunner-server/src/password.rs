//! Operator names and passwords: normalisation (Unicode NFKC), the password policy (NIST SP
//! 800-63B rev. 4: at least 15 characters, at least 64 allowed, no composition rules,
//! refused when common or built from the account's name) and Argon2id hashing to PHC
//! strings with a re-hash when the configured cost rises.
//!
//! The common-password check is ours: a short list of words that lead every leaked-password
//! ranking, written here by hand, combined with the shapes such passwords take (a word
//! repeated or padded with digits and symbols, keyboard and alphabet runs, few distinct
//! characters). It is not a copy of any published list.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::security_config::SecurityConfig;

/// Fewest characters (Unicode scalar values after NFKC) in a password.
pub const PASSWORD_MIN_CHARS: usize = 15;
/// Most bytes in a password: more than 64 characters are allowed (up to 256 bytes of UTF-8);
/// beyond, it is refused before hashing so nobody can make the server hash megabytes.
pub const PASSWORD_MAX_BYTES: usize = 256;
/// Most bytes in a user name.
pub const USERNAME_MAX_BYTES: usize = 64;

/// Normalises a user name: NFKC (so a full-width `ａｄｍｉｎ` is `admin`), then lower case.
/// Only ASCII letters, digits and `.`, `_`, `-`, `@` are allowed afterwards, 3 to 64 of
/// them: that leaves no room for look-alike letters from other scripts, invisible
/// characters or right-to-left overrides.
pub fn normalise_username(raw: &str) -> Result<String, String> {
    if raw.len() > USERNAME_MAX_BYTES * 4 {
        return Err(format!("is longer than {USERNAME_MAX_BYTES} characters"));
    }
    let name: String = raw.nfkc().collect::<String>().to_lowercase();
    if !(3..=USERNAME_MAX_BYTES).contains(&name.len()) {
        return Err(format!("must have 3 to {USERNAME_MAX_BYTES} characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(format!(
            "may hold only letters a-z, digits and . _ - @ (found U+{:04X})",
            bad as u32
        ));
    }
    Ok(name)
}

/// NFKC-normalises a password (so the same password typed on two keyboards is the same
/// bytes). The result is wiped from memory when dropped.
pub fn normalise_password(raw: &str) -> Zeroizing<String> {
    Zeroizing::new(raw.nfkc().collect())
}

/// Words that lead every leaked-password ranking (hand-written; see the module comment).
const COMMON_WORDS: &[&str] = &[
    "password",
    "passw0rd",
    "pass",
    "qwerty",
    "qwertz",
    "azerty",
    "letmein",
    "welcome",
    "iloveyou",
    "love",
    "admin",
    "administrator",
    "root",
    "login",
    "master",
    "secret",
    "monkey",
    "dragon",
    "shadow",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "soccer",
    "superman",
    "batman",
    "trustno",
    "whatever",
    "freedom",
    "hello",
    "charlie",
    "abc",
    "changeme",
    "default",
    "test",
    "guest",
    "user",
    "showrunner",
    "streaming",
    "netflix",
    "summer",
    "winter",
    "spring",
    "autumn",
    "starwars",
    "pokemon",
    "michael",
    "jordan",
    "killer",
    "hunter",
    "ranger",
    "cheese",
    "cookie",
    "flower",
    "computer",
    "internet",
    "secure",
    "security",
    "access",
    "qazwsx",
    "asdf",
    "zxcv",
    "football",
    "matrix",
];

/// Runs that keyboards and alphabets make easy.
const SEQUENCES: &[&str] = &[
    "abcdefghijklmnopqrstuvwxyz",
    "01234567890",
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
];

/// Why a password is refused, or `None` when it is acceptable. `username` is the
/// normalised name of the account it is for.
pub fn password_problem(password: &str, username: &str) -> Option<String> {
    if password.len() > PASSWORD_MAX_BYTES {
        return Some(format!("is longer than {PASSWORD_MAX_BYTES} bytes"));
    }
    let chars = password.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Some(format!(
            "has {chars} characters; at least {PASSWORD_MIN_CHARS} are needed (a few words \
             make a good one)"
        ));
    }
    let lower = Zeroizing::new(password.to_lowercase());
    if lower.contains(username) {
        return Some("contains the user name".into());
    }
    let mut distinct: Vec<char> = lower.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 5 {
        return Some("is too repetitive".into());
    }
    if is_common(&lower) {
        return Some("is a common password or built from one".into());
    }
    None
}

/// Whether `lower` is made only of common words, runs of a sequence, and digits or
/// symbols around them (`password123456789`, `qwertyqwertyqwerty`, `iloveyou!!!!!!!!`).
fn is_common(lower: &str) -> bool {
    let letters: Vec<char> = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let digits_and_symbols_only = letters.is_empty();
    if digits_and_symbols_only {
        // Only digits or symbols: common when it is runs and repeats of a sequence.
        return is_sequence_run(lower);
    }
    // The letters, with everything else removed, split entirely into common words or
    // sequence runs (word break over a small dictionary).
    let text: String = letters.into_iter().collect();
    let bytes = text.as_bytes();
    let mut reachable = vec![false; bytes.len() + 1];
    reachable[0] = true;
    for start in 0..bytes.len() {
        if !reachable[start] {
            continue;
        }
        for word in COMMON_WORDS {
            if text[start..].starts_with(word) {
                reachable[start + word.len()] = true;
            }
        }
        // A run of at least three letters of a sequence.
        let mut end = start + 1;
        while end < bytes.len() && follows(bytes[end - 1] as char, bytes[end] as char) {
            end += 1;
            if end - start >= 3 {
                reachable[end] = true;
            }
        }
    }
    reachable[bytes.len()] && text.is_ascii()
}

/// Whether `b` comes right after (or before) `a` in one of [`SEQUENCES`], or repeats it.
fn follows(a: char, b: char) -> bool {
    a == b
        || SEQUENCES.iter().any(|sequence| {
            sequence.as_bytes().windows(2).any(|w| {
                (w[0] as char, w[1] as char) == (a, b) || (w[1] as char, w[0] as char) == (a, b)
            })
        })
}

fn is_sequence_run(text: &str) -> bool {
    let chars: Vec<char> = text.chars().filter(char::is_ascii_alphanumeric).collect();
    chars.len() >= 3 && chars.windows(2).all(|w| follows(w[0], w[1]))
        || text
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            < 5
}

/// Hashes and checks passwords with the configured Argon2id cost.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("m_cost", &self.params.m_cost())
            .field("t_cost", &self.params.t_cost())
            .field("p_cost", &self.params.p_cost())
            .finish()
    }
}

/// Hashing failed (only with impossible parameters or a malformed stored hash).
#[derive(Debug, thiserror::Error)]
#[error("password hashing: {0}")]
pub struct HashError(String);

impl Hasher {
    pub fn new(config: &SecurityConfig) -> Result<Hasher, HashError> {
        let params = Params::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            None,
        )
        .map_err(|e| HashError(e.to_string()))?;
        Ok(Hasher { params })
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) with a fresh 128-bit salt.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let salt_bytes: [u8; 16] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError(e.to_string()))?;
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Whether `password` matches the stored PHC string (with the cost written in it), and
    /// whether that cost is below the configured one (so the caller re-hashes).
    pub fn verify(&self, password: &str, phc: &str) -> Result<Verified, HashError> {
        let parsed = PasswordHash::new(phc).map_err(|e| HashError(e.to_string()))?;
        if parsed.algorithm.as_str() != "argon2id" {
            return Err(HashError(format!(
                "unsupported algorithm {}",
                parsed.algorithm
            )));
        }
        let matches = self
            .argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        let stored = Params::try_from(&parsed).map_err(|e| HashError(e.to_string()))?;
        let weaker = stored.m_cost() < self.params.m_cost()
            || stored.t_cost() < self.params.t_cost()
            || parsed.version.map(|v| v != 0x13).unwrap_or(false);
        Ok(Verified {
            matches,
            needs_rehash: matches && weaker,
        })
    }
}

/// The outcome of [`Hasher::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    pub needs_rehash: bool,
}
