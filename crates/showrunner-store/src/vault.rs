//! Personal data at rest: envelope encryption with per-subject data keys.
//!
//! Member emails and names (and profile names), login accounts and IP addresses, and the raw
//! text of quarantined rows are written only as ciphertext. Each *subject* (a member id, or
//! the account identifier a login tried) has its own random 256-bit data key; values are
//! sealed with XChaCha20-Poly1305 under that key, with the table and column as associated
//! data so a ciphertext cannot be moved to another column. Data keys are stored wrapped
//! (encrypted) under the *master key*, which comes from the environment or a key file and is
//! never stored in the database. Erasing a subject deletes its data key, after which its
//! ciphertexts anywhere (rows, the WAL, backups) can no longer be opened.
//!
//! A store-wide *blind index key* (a data key like the others, under a fixed reference)
//! keys the HMAC that maps a subject to its data key's reference and an email to its lookup
//! index, so neither the subject nor the email is stored in the clear.
//!
//! Rotating the master key re-wraps every data key; values themselves are not touched. A
//! reader holds every master key it can find (the current one and the `.previous` and
//! `.next` files beside a key file), so a service keeps reading while a rotation runs.
//!
//! Sealed text is `enc1:` followed by the base64 of `reference (16) ‖ nonce (24) ‖
//! ciphertext ‖ tag (16)`. Text without the prefix is read as it is (stores written before
//! encryption); a value whose data key was erased reads as [`ERASED`].

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use showrunner_model::event::Login;
use showrunner_model::{Event, EventBody, Member, Personal, Quarantined};
use zeroize::{Zeroize, Zeroizing};

use crate::QuarantineRow;

/// The text a value reads as once its subject's data key is erased.
pub const ERASED: &str = "[erased]";

/// Environment variable holding the master key as 64 hex digits.
pub const MASTER_KEY_ENV: &str = "SHOWRUNNER_MASTER_KEY";
/// Environment variable naming the master key file.
pub const MASTER_KEY_FILE_ENV: &str = "SHOWRUNNER_MASTER_KEY_FILE";

const PREFIX: &str = "enc1:";
/// How often a process re-reads its key file for a new current key (after a rotation).
pub const KEY_FILE_CHECK: Duration = Duration::from_secs(5);
const REF_LEN: usize = 16;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// A data key's reference: the first 16 bytes of the blind-index HMAC of its subject.
pub type KeyRef = [u8; REF_LEN];

/// The blind index key's own reference (no subject maps to it: subject references come
/// from an HMAC, and this one is fixed).
pub(crate) const BLIND_INDEX_REF: KeyRef = [0; REF_LEN];

type HmacSha256 = Hmac<Sha256>;

/// Problems with keys and ciphertexts.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("master key from {source_name}: {detail}")]
    BadMasterKey { source_name: String, detail: String },
    #[error("reading master key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no master key configured: set {MASTER_KEY_ENV} (64 hex digits) or {MASTER_KEY_FILE_ENV}, \
         or HOME so the default key file can be used"
    )]
    NoKeySource,
    #[error(
        "personal data here is encrypted under master key {wanted}, which is not configured \
         (configured: {have}); set {MASTER_KEY_FILE_ENV} or {MASTER_KEY_ENV} to that key"
    )]
    UnknownMasterKey { wanted: String, have: String },
    #[error("a wrapped data key failed authentication: the key table or the master key is wrong")]
    Unwrap,
    #[error("{column}: stored ciphertext is malformed or was tampered with")]
    Corrupt { column: &'static str },
}

/// A 256-bit master key and its public id (a keyed hash of it, safe to store and print).
pub struct MasterKey {
    key: Zeroizing<[u8; 32]>,
    id: [u8; 8],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id_hex())
            .finish()
    }
}

impl Clone for MasterKey {
    fn clone(&self) -> Self {
        MasterKey::from_bytes(*self.key)
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&bytes).expect("HMAC takes any key length");
        mac.update(b"showrunner master key id");
        let digest = mac.finalize().into_bytes();
        let mut id = [0; 8];
        id.copy_from_slice(&digest[..8]);
        MasterKey {
            key: Zeroizing::new(bytes),
            id,
        }
    }

    /// A new random key.
    pub fn generate() -> MasterKey {
        let mut bytes: [u8; 32] = rand::random();
        let key = MasterKey::from_bytes(bytes);
        bytes.zeroize();
        key
    }

    /// Parses 64 hex digits (surrounding whitespace ignored); `source_name` names where the
    /// text came from, for the error.
    pub fn parse_hex(text: &str, source_name: &str) -> Result<MasterKey, VaultError> {
        let text = text.trim();
        let bad = |detail: &str| VaultError::BadMasterKey {
            source_name: source_name.to_owned(),
            detail: detail.to_owned(),
        };
        if text.len() != 64 {
            return Err(bad(&format!(
                "expected 64 hex digits (256 bits), found {} characters",
                text.len()
            )));
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let digits = std::str::from_utf8(pair).map_err(|_| bad("not hex"))?;
            *byte = u8::from_str_radix(digits, 16).map_err(|_| bad("not hex"))?;
        }
        Ok(MasterKey::from_bytes(*bytes))
    }

    /// The key as 64 hex digits (for writing a key file).
    pub fn to_hex(&self) -> Zeroizing<String> {
        let mut text = String::with_capacity(64);
        for byte in self.key.iter() {
            text.push_str(&format!("{byte:02x}"));
        }
        Zeroizing::new(text)
    }

    pub fn id(&self) -> [u8; 8] {
        self.id
    }

    pub fn id_hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.key).into())
    }

    /// Reads a key file (64 hex digits).
    pub fn read_file(path: &Path) -> Result<MasterKey, VaultError> {
        let text =
            Zeroizing::new(
                fs::read_to_string(path).map_err(|source| VaultError::KeyFile {
                    path: path.to_owned(),
                    source,
                })?,
            );
        MasterKey::parse_hex(&text, &path.display().to_string())
    }

    /// Writes the key to a new file readable by its owner only; fails if the file exists.
    pub fn write_new_file(&self, path: &Path) -> Result<(), VaultError> {
        let io = |source| VaultError::KeyFile {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(self.to_hex().as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)
    }
}

/// Where the master key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `SHOWRUNNER_MASTER_KEY`: the key itself. It cannot be rotated in place.
    Env,
    /// A key file (`SHOWRUNNER_MASTER_KEY_FILE`, or the default under the user's config
    /// directory, created on first use).
    File(PathBuf),
}

impl KeySource {
    /// The configured source: `SHOWRUNNER_MASTER_KEY`, else `SHOWRUNNER_MASTER_KEY_FILE`,
    /// else `$XDG_CONFIG_HOME/showrunner/master.key` or `~/.config/showrunner/master.key`.
    pub fn from_environment() -> Result<KeySource, VaultError> {
        if std::env::var_os(MASTER_KEY_ENV).is_some_and(|v| !v.is_empty()) {
            return Ok(KeySource::Env);
        }
        if let Some(file) = std::env::var_os(MASTER_KEY_FILE_ENV).filter(|v| !v.is_empty()) {
            return Ok(KeySource::File(PathBuf::from(file)));
        }
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".config"))
            })
            .ok_or(VaultError::NoKeySource)?;
        Ok(KeySource::File(
            config_home.join("showrunner").join("master.key"),
        ))
    }
}

/// The master keys a process can use: the current one (new data keys are wrapped under
/// it) and any others found beside it (a rotation's `.previous` and `.next`).
#[derive(Debug, Clone)]
pub struct Keyring {
    current: MasterKey,
    others: Vec<MasterKey>,
    file: Option<PathBuf>,
}

impl Keyring {
    /// A keyring of one key (tests, and callers that manage keys themselves).
    pub fn single(key: MasterKey) -> Keyring {
        Keyring {
            current: key,
            others: Vec::new(),
            file: None,
        }
    }

    /// Adds a key that can unwrap but is not used for new data keys.
    pub fn with_other(mut self, key: MasterKey) -> Keyring {
        if key.id != self.current.id && !self.others.iter().any(|k| k.id == key.id) {
            self.others.push(key);
        }
        self
    }

    /// Loads the configured master key (see [`KeySource::from_environment`]). A missing
    /// key file is created with a new random key only at the default location; a file
    /// named by `SHOWRUNNER_MASTER_KEY_FILE` must exist.
    pub fn from_environment() -> Result<Keyring, VaultError> {
        match KeySource::from_environment()? {
            KeySource::Env => {
                let text = Zeroizing::new(std::env::var(MASTER_KEY_ENV).map_err(|_| {
                    VaultError::BadMasterKey {
                        source_name: MASTER_KEY_ENV.into(),
                        detail: "not valid UTF-8".into(),
                    }
                })?);
                Ok(Keyring::single(MasterKey::parse_hex(
                    &text,
                    MASTER_KEY_ENV,
                )?))
            }
            KeySource::File(path) => {
                let explicit = std::env::var_os(MASTER_KEY_FILE_ENV).is_some_and(|v| !v.is_empty());
                if !explicit && !path.exists() {
                    match MasterKey::generate().write_new_file(&path) {
                        Ok(()) => {
                            tracing::info!(path = %path.display(), "created a new master key")
                        }
                        // Another process created it first: use theirs.
                        Err(VaultError::KeyFile { source, .. })
                            if source.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(error) => return Err(error),
                    }
                }
                Keyring::from_file(&path)
            }
        }
    }

    /// The key in `path`, plus `path.previous` and `path.next` when present.
    pub fn from_file(path: &Path) -> Result<Keyring, VaultError> {
        let mut ring = Keyring::single(MasterKey::read_file(path)?);
        for suffix in ["previous", "next"] {
            let other = sibling(path, suffix);
            if other.exists() {
                ring = ring.with_other(MasterKey::read_file(&other)?);
            }
        }
        ring.file = Some(path.to_owned());
        Ok(ring)
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The key file this ring was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    fn find(&self, id: &[u8]) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.others)
            .find(|key| key.id == id)
    }

    fn ids(&self) -> String {
        std::iter::once(&self.current)
            .chain(&self.others)
            .map(MasterKey::id_hex)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `master.key` → `master.key.previous`.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

/// The text every value sealed under `reference` starts with (the prefix and the base64
/// of the reference's first 15 bytes, which encode to whole characters), for finding a
/// subject's sealed rows without opening them.
pub fn sealed_prefix(reference: &KeyRef) -> String {
    let mut text = PREFIX.to_owned();
    STANDARD_NO_PAD.encode_string(&reference[..15], &mut text);
    text
}

/// Whether `text` is a sealed value (rather than one written in the clear before sealing).
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// A data key wrapped under a master key, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub reference: KeyRef,
    pub master_id: [u8; 8],
    /// Nonce (24) ‖ ciphertext of the 32-byte key ‖ tag (16).
    pub wrapped: Vec<u8>,
}

/// Where data keys are kept: the backend's key table, inside the caller's transaction.
pub trait KeyTable {
    fn load(&mut self, reference: &KeyRef) -> Result<Option<WrappedKey>, crate::StoreError>;
    /// Stores a new data key, unless another writer stored one under the same reference
    /// first (possible where writers do not take turns, as on PostgreSQL): then that one
    /// is returned, and it is the key to use.
    fn insert(&mut self, key: &WrappedKey) -> Result<Option<WrappedKey>, crate::StoreError>;

    /// Stores new data keys in the order given (one statement where the backend can),
    /// returning those another writer stored first under the same references.
    fn insert_all(&mut self, keys: &[WrappedKey]) -> Result<Vec<WrappedKey>, crate::StoreError> {
        let mut theirs = Vec::new();
        for key in keys {
            theirs.extend(self.insert(key)?);
        }
        Ok(theirs)
    }
}

#[derive(Clone)]
struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.0).into())
    }
}

/// The keys of one store in one process: the keyring and the data keys unwrapped so far.
pub struct Vault {
    keyring: RwLock<Keyring>,
    /// When the key file was last looked at for a newer current key.
    checked: Mutex<Instant>,
    /// Unwrapped data keys by reference; `None` for an erased (missing) key.
    cache: Mutex<HashMap<KeyRef, Option<DataKey>>>,
    blind: Mutex<Option<DataKey>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

fn wrap_aad(reference: &KeyRef, master_id: &[u8; 8]) -> Vec<u8> {
    let mut aad = b"showrunner data key\0".to_vec();
    aad.extend_from_slice(reference);
    aad.extend_from_slice(master_id);
    aad
}

impl Vault {
    pub fn new(keyring: Keyring) -> Vault {
        Vault {
            keyring: RwLock::new(keyring),
            checked: Mutex::new(Instant::now()),
            cache: Mutex::new(HashMap::new()),
            blind: Mutex::new(None),
        }
    }

    /// The current master key's id.
    pub fn master_id(&self) -> [u8; 8] {
        self.keyring.read().expect("keyring lock").current.id
    }

    /// Fails unless every master key id in `ids` (the store's) is in the keyring, after
    /// re-reading the key files once.
    pub fn check_master_ids(&self, ids: &[[u8; 8]]) -> Result<(), VaultError> {
        for id in ids {
            if self
                .keyring
                .read()
                .expect("keyring lock")
                .find(id)
                .is_none()
            {
                self.reload();
                let ring = self.keyring.read().expect("keyring lock");
                if ring.find(id).is_none() {
                    return Err(VaultError::UnknownMasterKey {
                        wanted: id.iter().map(|b| format!("{b:02x}")).collect(),
                        have: ring.ids(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Re-reads the key files (a rotation may have added a key); keeps the ring on error.
    fn reload(&self) {
        let file = self.keyring.read().expect("keyring lock").file.clone();
        if let Some(file) = file
            && let Ok(ring) = Keyring::from_file(&file)
        {
            let mut current = self.keyring.write().expect("keyring lock");
            let mut merged = ring;
            for key in std::iter::once(&current.current).chain(&current.others) {
                merged = merged.with_other(key.clone());
            }
            *current = merged;
        }
    }

    /// Picks up a rotation's new current key: re-reads the key file at most every
    /// [`KEY_FILE_CHECK`].
    fn refresh_current(&self) {
        let has_file = self.keyring.read().expect("keyring lock").file.is_some();
        if !has_file {
            return;
        }
        {
            let mut checked = self.checked.lock().expect("vault lock");
            if checked.elapsed() < KEY_FILE_CHECK {
                return;
            }
            *checked = Instant::now();
        }
        self.reload();
    }

    /// Wraps a data key under the current master key.
    fn wrap(&self, reference: &KeyRef, key: &DataKey) -> WrappedKey {
        self.refresh_current();
        let ring = self.keyring.read().expect("keyring lock");
        wrap_under(&ring.current, reference, key)
    }

    fn unwrap_key(&self, stored: &WrappedKey) -> Result<DataKey, VaultError> {
        let master = {
            let ring = self.keyring.read().expect("keyring lock");
            ring.find(&stored.master_id).cloned()
        };
        let master = match master {
            Some(master) => master,
            None => {
                self.check_master_ids(&[stored.master_id])?;
                let ring = self.keyring.read().expect("keyring lock");
                ring.find(&stored.master_id)
                    .cloned()
                    .ok_or(VaultError::Unwrap)?
            }
        };
        unwrap_under(&master, stored)
    }

    /// The store-wide blind index key, created (in `table`'s transaction) on first use.
    fn blind_key(&self, table: &mut dyn KeyTable) -> Result<DataKey, crate::StoreError> {
        if let Some(key) = self.blind.lock().expect("vault lock").clone() {
            return Ok(key);
        }
        let key = match table.load(&BLIND_INDEX_REF)? {
            Some(stored) => self.unwrap_key(&stored)?,
            None => self.create_key(table, &BLIND_INDEX_REF)?,
        };
        // Cached only once it is known to be stored; a failed transaction that created it
        // fails the whole batch, and `forget_new` drops the cache.
        *self.blind.lock().expect("vault lock") = Some(key.clone());
        Ok(key)
    }

    /// A new random data key stored under `reference`, or the one another writer stored
    /// there first.
    fn create_key(
        &self,
        table: &mut dyn KeyTable,
        reference: &KeyRef,
    ) -> Result<DataKey, crate::StoreError> {
        let key = DataKey(Zeroizing::new(rand::random()));
        match table.insert(&self.wrap(reference, &key))? {
            None => Ok(key),
            Some(theirs) => Ok(self.unwrap_key(&theirs)?),
        }
    }

    /// Makes sure the data keys under `references` exist and are unwrapped, creating the
    /// missing ones in the order given. Writers that do not take turns (PostgreSQL) pass
    /// them sorted: every transaction then waits for another's new keys in one order, so
    /// two writers creating the same keys cannot deadlock.
    pub(crate) fn prepare_keys(
        &self,
        table: &mut dyn KeyTable,
        references: &[KeyRef],
    ) -> Result<(), crate::StoreError> {
        let mut fresh = Vec::new();
        let mut wrapped = Vec::new();
        for reference in references {
            if let Some(Some(_)) = self.cached(reference) {
                continue;
            }
            match table.load(reference)? {
                Some(stored) => self.remember(*reference, Some(self.unwrap_key(&stored)?)),
                None => {
                    let key = DataKey(Zeroizing::new(rand::random()));
                    wrapped.push(self.wrap(reference, &key));
                    fresh.push((*reference, key));
                }
            }
        }
        let theirs: HashMap<KeyRef, WrappedKey> = table
            .insert_all(&wrapped)?
            .into_iter()
            .map(|key| (key.reference, key))
            .collect();
        for (reference, ours) in fresh {
            let key = match theirs.get(&reference) {
                Some(stored) => self.unwrap_key(stored)?,
                None => ours,
            };
            self.remember(reference, Some(key));
        }
        Ok(())
    }

    /// The reference of a subject's data key.
    pub fn reference(
        &self,
        table: &mut dyn KeyTable,
        subject: &str,
    ) -> Result<KeyRef, crate::StoreError> {
        let blind = self.blind_key(table)?;
        let digest = hmac(&blind, b"subject", subject.as_bytes());
        let mut reference = [0; REF_LEN];
        reference.copy_from_slice(&digest[..REF_LEN]);
        Ok(reference)
    }

    /// The keyed lookup index of an email (trimmed, lower-cased).
    pub fn email_index(
        &self,
        table: &mut dyn KeyTable,
        email: &str,
    ) -> Result<[u8; 32], crate::StoreError> {
        let blind = self.blind_key(table)?;
        Ok(hmac(
            &blind,
            b"email",
            email.trim().to_lowercase().as_bytes(),
        ))
    }

    /// A keyed lookup index of `value` for one purpose (`domain`), under the blind index
    /// key: equal values give equal indexes, and the index does not reveal the value.
    pub fn lookup_index(
        &self,
        table: &mut dyn KeyTable,
        domain: &'static [u8],
        value: &str,
    ) -> Result<[u8; 32], crate::StoreError> {
        let blind = self.blind_key(table)?;
        Ok(hmac(&blind, domain, value.as_bytes()))
    }

    /// Seals `plaintext` under `subject`'s data key (created in `table` when missing).
    /// `column` (`table.column`) is bound as associated data.
    pub fn seal(
        &self,
        table: &mut dyn KeyTable,
        subject: &str,
        column: &'static str,
        plaintext: &str,
    ) -> Result<String, crate::StoreError> {
        let (reference, key) = self.subject_key(table, subject)?;
        Ok(seal_under(&reference, &key, column, plaintext))
    }

    /// The reference and data key of `subject` (the key created in `table` when missing).
    fn subject_key(
        &self,
        table: &mut dyn KeyTable,
        subject: &str,
    ) -> Result<(KeyRef, DataKey), crate::StoreError> {
        let reference = self.reference(table, subject)?;
        let key = match self.cached(&reference) {
            Some(Some(key)) => key,
            _ => match table.load(&reference)? {
                Some(stored) => {
                    let key = self.unwrap_key(&stored)?;
                    self.remember(reference, Some(key.clone()));
                    key
                }
                None => {
                    let key = self.create_key(table, &reference)?;
                    self.remember(reference, Some(key.clone()));
                    key
                }
            },
        };
        Ok((reference, key))
    }

    /// Opens a value written by [`Vault::seal`]; text that is not sealed is returned as it
    /// is, and a value whose data key was erased reads as [`ERASED`].
    pub fn open(
        &self,
        table: &mut dyn KeyTable,
        column: &'static str,
        stored: String,
    ) -> Result<String, crate::StoreError> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else {
            return Ok(stored);
        };
        let bytes = STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| VaultError::Corrupt { column })?;
        if bytes.len() < REF_LEN + NONCE_LEN + TAG_LEN {
            return Err(VaultError::Corrupt { column }.into());
        }
        let mut reference = [0; REF_LEN];
        reference.copy_from_slice(&bytes[..REF_LEN]);
        let key = match self.cached(&reference) {
            Some(key) => key,
            None => {
                let key = match table.load(&reference)? {
                    Some(stored) => Some(self.unwrap_key(&stored)?),
                    None => None,
                };
                self.remember(reference, key.clone());
                key
            }
        };
        let Some(key) = key else {
            return Ok(ERASED.to_owned());
        };
        let plain = key
            .cipher()
            .decrypt(
                XNonce::from_slice(&bytes[REF_LEN..REF_LEN + NONCE_LEN]),
                Payload {
                    msg: &bytes[REF_LEN + NONCE_LEN..],
                    aad: column.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Corrupt { column })?;
        String::from_utf8(plain).map_err(|_| VaultError::Corrupt { column }.into())
    }

    /// Re-wraps a stored data key under the current master key.
    pub fn rewrap(&self, stored: &WrappedKey) -> Result<WrappedKey, VaultError> {
        let key = self.unwrap_key(stored)?;
        Ok(self.wrap(&stored.reference, &key))
    }

    /// `result` as it is, having dropped the cached keys when it is an error: a data key
    /// made in a transaction that failed went with its rollback.
    pub fn forget_if_failed<T, E>(&self, result: Result<T, E>) -> Result<T, E> {
        if result.is_err() {
            self.forget();
        }
        result
    }

    /// The current master key's id in hex.
    pub fn master_id_hex(&self) -> String {
        self.master_id()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Drops every cached key: after a failed transaction (keys it created are gone) and
    /// after an erasure (so the erased key is not used from memory).
    pub fn forget(&self) {
        self.cache.lock().expect("vault lock").clear();
        *self.blind.lock().expect("vault lock") = None;
    }

    fn cached(&self, reference: &KeyRef) -> Option<Option<DataKey>> {
        self.cache
            .lock()
            .expect("vault lock")
            .get(reference)
            .cloned()
    }

    fn remember(&self, reference: KeyRef, key: Option<DataKey>) {
        let mut cache = self.cache.lock().expect("vault lock");
        // Bounded: a platform has far more subjects than one process needs at once.
        if cache.len() >= 1_000_000 {
            cache.clear();
        }
        cache.insert(reference, key);
    }
}

/// `plaintext` sealed under a data key: the reference, a random nonce and the
/// XChaCha20-Poly1305 ciphertext with `column` as associated data, in base64 after the
/// prefix.
fn seal_under(reference: &KeyRef, key: &DataKey, column: &'static str, plaintext: &str) -> String {
    let mut bytes = Vec::with_capacity(REF_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
    bytes.extend_from_slice(reference);
    encrypt_appending(
        &key.cipher(),
        plaintext.as_bytes(),
        column.as_bytes(),
        &mut bytes,
    );
    let mut text = String::with_capacity(PREFIX.len() + bytes.len() * 4 / 3 + 4);
    text.push_str(PREFIX);
    STANDARD_NO_PAD.encode_string(&bytes, &mut text);
    text
}

/// Encrypts `msg` with `aad` under a fresh random nonce and appends the nonce, then the
/// ciphertext with its tag, to `out`: the layout of both sealed values and wrapped keys.
fn encrypt_appending(cipher: &XChaCha20Poly1305, msg: &[u8], aad: &[u8], out: &mut Vec<u8>) {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg, aad })
        .expect("XChaCha20-Poly1305 encryption does not fail for short messages");
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
}

// What each backend seals, and under which subject: shared, so both store the same.

/// The subject every quarantined row is sealed under: rows that failed validation cannot
/// be trusted to name their member.
pub(crate) const QUARANTINE_SUBJECT: &str = "\0quarantine";
/// The subject every audit row's IP is sealed under: an address is not tied to one member,
/// and the log outlives accounts.
pub(crate) const AUDIT_SUBJECT: &str = "\0audit";
pub(crate) const AUDIT_IP_COLUMN: &str = "audit_log.ip";
/// The subject the findings' keys and evidence are sealed under: a finding is about an
/// attack as much as about a member, so it is not erased with one.
pub(crate) const FINDINGS_SUBJECT: &str = "\0findings";
/// The lookup index domain of a finding's key (its `subject` column).
pub(crate) const FINDING_INDEX_DOMAIN: &[u8] = b"finding key";

/// A finding's personal fields as stored: the key's lookup index (what uniqueness and the
/// key filter use), and the key and the evidence sealed under the findings key.
pub(crate) struct SealedFinding {
    pub subject: [u8; 32],
    pub key: String,
    pub evidence: String,
}

pub(crate) fn seal_finding(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    key: &str,
    evidence: &str,
) -> Result<SealedFinding, crate::StoreError> {
    Ok(SealedFinding {
        subject: vault.lookup_index(keys, FINDING_INDEX_DOMAIN, key)?,
        key: vault.seal(keys, FINDINGS_SUBJECT, "findings.key", key)?,
        evidence: vault.seal(keys, FINDINGS_SUBJECT, "findings.evidence", evidence)?,
    })
}

/// Data keys re-wrapped per transaction during a rotation, so a running service's writes
/// wait at most one short transaction.
pub(crate) const REWRAP_CHUNK: usize = 500;

/// What a rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RewrapSummary {
    /// Data keys now wrapped under the current master key that were not before.
    pub rewrapped: u64,
    /// Data keys in the store.
    pub total: u64,
}

/// A member as stored: personal fields sealed under the member's data key, and the email's
/// lookup index.
pub(crate) fn seal_member(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    member: &Member,
) -> Result<(Member, Option<[u8; 32]>), crate::StoreError> {
    let mut sealed = member.clone();
    let mut index = None;
    if let Some(email) = &member.email {
        index = Some(vault.email_index(keys, email.expose())?);
        sealed.email = Some(Personal::new(vault.seal(
            keys,
            &member.id,
            "members.email",
            email.expose(),
        )?));
    }
    if let Some(name) = &member.name {
        sealed.name = Some(Personal::new(vault.seal(
            keys,
            &member.id,
            "members.name",
            name.expose(),
        )?));
    }
    for profile in &mut sealed.profiles {
        if let Some(name) = &profile.name {
            profile.name = Some(Personal::new(vault.seal(
                keys,
                &member.id,
                "members.profiles.name",
                name.expose(),
            )?));
        }
    }
    Ok((sealed, index))
}

/// A member as read: personal fields opened (plain ones, from before sealing, as they are).
pub(crate) fn open_member(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    mut member: Member,
) -> Result<Member, crate::StoreError> {
    if let Some(email) = member.email.take() {
        member.email = Some(Personal::new(vault.open(
            keys,
            "members.email",
            email.into_inner(),
        )?));
    }
    if let Some(name) = member.name.take() {
        member.name = Some(Personal::new(vault.open(
            keys,
            "members.name",
            name.into_inner(),
        )?));
    }
    for profile in &mut member.profiles {
        if let Some(name) = profile.name.take() {
            profile.name = Some(Personal::new(vault.open(
                keys,
                "members.profiles.name",
                name.into_inner(),
            )?));
        }
    }
    Ok(member)
}

/// A login's `account` and `ip` sealed. A login is sealed under the account it tried,
/// which need not be a member.
pub(crate) fn seal_login(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    account: &str,
    ip: &str,
) -> Result<[String; 2], crate::StoreError> {
    // Both under the account's key: one HMAC and one key lookup for the two.
    let (reference, key) = vault.subject_key(keys, account)?;
    Ok([
        seal_under(&reference, &key, "logins.account", account),
        seal_under(&reference, &key, "logins.ip", ip),
    ])
}

/// The sealed `account` and `ip` of every login of a batch, by the event's position.
pub(crate) fn seal_logins<'a>(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    events: impl IntoIterator<Item = &'a Event>,
) -> Result<HashMap<usize, [String; 2]>, crate::StoreError> {
    let mut sealed = HashMap::new();
    for (position, event) in events.into_iter().enumerate() {
        if let EventBody::Login(login) = &event.body {
            sealed.insert(
                position,
                seal_login(vault, keys, &login.account, &login.ip)?,
            );
        }
    }
    Ok(sealed)
}

pub(crate) fn open_login(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    login: &mut Login,
) -> Result<(), crate::StoreError> {
    login.account = vault.open(keys, "logins.account", std::mem::take(&mut login.account))?;
    login.ip = vault.open(keys, "logins.ip", std::mem::take(&mut login.ip))?;
    Ok(())
}

/// Opens the logins among `events` (read back from the store).
pub(crate) fn open_logins(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    events: &mut [Event],
) -> Result<(), crate::StoreError> {
    for event in events {
        if let EventBody::Login(login) = &mut event.body {
            open_login(vault, keys, login)?;
        }
    }
    Ok(())
}

/// Quarantined rows with their raw text and problem detail sealed (either may quote an
/// email or an address), each with the hash of its plain raw text that stands for it in
/// the unique key (the raw text can be 16 KiB, too big to index): the same row quarantined
/// twice is still one row although its ciphertexts differ.
pub(crate) fn seal_quarantined(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    rows: &[Quarantined],
) -> Result<Vec<(Quarantined, i64)>, crate::StoreError> {
    rows.iter()
        .map(|row| {
            let mut sealed = row.clone();
            sealed.raw = vault.seal(keys, QUARANTINE_SUBJECT, "quarantine.raw", &row.raw)?;
            sealed.problem.detail = vault.seal(
                keys,
                QUARANTINE_SUBJECT,
                "quarantine.detail",
                &row.problem.detail,
            )?;
            Ok((sealed, raw_hash(&row.raw)))
        })
        .collect()
}

/// The hash of a quarantined row's plain raw text (the same on both backends, so a copied
/// quarantine dedups against new rows).
pub(crate) fn raw_hash(raw: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(raw.as_bytes()) as i64
}

pub(crate) fn open_quarantine_row(
    vault: &Vault,
    keys: &mut dyn KeyTable,
    mut row: QuarantineRow,
) -> Result<QuarantineRow, crate::StoreError> {
    row.raw = vault.open(keys, "quarantine.raw", std::mem::take(&mut row.raw))?;
    row.problem.detail = vault.open(
        keys,
        "quarantine.detail",
        std::mem::take(&mut row.problem.detail),
    )?;
    Ok(row)
}

/// The subjects whose data keys erasing a member destroys: the member, and their email
/// (opened; the account their logins tried) unless it is already erased.
pub(crate) fn erasure_subjects(member_id: &str, email: Option<String>) -> Vec<String> {
    let mut subjects = vec![member_id.to_owned()];
    subjects.extend(email.filter(|e| e != ERASED));
    subjects
}

/// A data key row as a backend read it, checked: `Err(column)` names the column of the
/// wrong length.
pub(crate) fn stored_key(
    reference: Vec<u8>,
    master_id: Vec<u8>,
    wrapped: Vec<u8>,
) -> Result<WrappedKey, &'static str> {
    Ok(WrappedKey {
        reference: reference.try_into().map_err(|_| "reference")?,
        master_id: master_id.try_into().map_err(|_| "master_id")?,
        wrapped,
    })
}

fn wrap_under(master: &MasterKey, reference: &KeyRef, key: &DataKey) -> WrappedKey {
    let mut wrapped = Vec::with_capacity(NONCE_LEN + 32 + TAG_LEN);
    encrypt_appending(
        &master.cipher(),
        &key.0[..],
        &wrap_aad(reference, &master.id),
        &mut wrapped,
    );
    WrappedKey {
        reference: *reference,
        master_id: master.id,
        wrapped,
    }
}

fn unwrap_under(master: &MasterKey, stored: &WrappedKey) -> Result<DataKey, VaultError> {
    if stored.wrapped.len() != NONCE_LEN + 32 + TAG_LEN {
        return Err(VaultError::Unwrap);
    }
    let plain = Zeroizing::new(
        master
            .cipher()
            .decrypt(
                XNonce::from_slice(&stored.wrapped[..NONCE_LEN]),
                Payload {
                    msg: &stored.wrapped[NONCE_LEN..],
                    aad: &wrap_aad(&stored.reference, &master.id),
                },
            )
            .map_err(|_| VaultError::Unwrap)?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&plain);
    Ok(DataKey(key))
}

fn hmac(key: &DataKey, domain: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(&key.0[..]).expect("HMAC takes any key length");
    mac.update(domain);
    mac.update(b"\0");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct MemoryTable(HashMap<KeyRef, WrappedKey>);

    impl KeyTable for MemoryTable {
        fn load(&mut self, reference: &KeyRef) -> Result<Option<WrappedKey>, crate::StoreError> {
            Ok(self.0.get(reference).cloned())
        }
        fn insert(&mut self, key: &WrappedKey) -> Result<Option<WrappedKey>, crate::StoreError> {
            self.0.insert(key.reference, key.clone());
            Ok(None)
        }
    }

    #[test]
    fn sealed_values_open_and_hide_the_plaintext() {
        let vault = Vault::new(Keyring::single(MasterKey::generate()));
        let mut table = MemoryTable::default();
        let sealed = vault
            .seal(&mut table, "m1", "members.email", "ada@example.com")
            .unwrap();
        assert!(sealed.starts_with(PREFIX));
        assert!(!sealed.contains("ada"));
        // Two seals of one value differ (random nonces).
        let again = vault
            .seal(&mut table, "m1", "members.email", "ada@example.com")
            .unwrap();
        assert_ne!(sealed, again);
        assert_eq!(
            vault
                .open(&mut table, "members.email", sealed.clone())
                .unwrap(),
            "ada@example.com"
        );
        // Bound to its column.
        assert!(vault.open(&mut table, "logins.ip", sealed).is_err());
        // Plain text reads as itself.
        assert_eq!(
            vault
                .open(&mut table, "logins.ip", "10.0.0.1".into())
                .unwrap(),
            "10.0.0.1"
        );
    }

    #[test]
    fn another_master_key_cannot_unwrap_and_rewrap_moves_keys() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let vault = Vault::new(Keyring::single(old.clone()));
        let mut table = MemoryTable::default();
        let sealed = vault
            .seal(&mut table, "m1", "logins.ip", "192.0.2.7")
            .unwrap();

        let stranger = Vault::new(Keyring::single(new.clone()));
        assert!(matches!(
            stranger.open(&mut table, "logins.ip", sealed.clone()),
            Err(crate::StoreError::Vault(
                VaultError::UnknownMasterKey { .. }
            ))
        ));

        // Rotation: a vault holding both keys re-wraps under the new one.
        let rotating = Vault::new(Keyring::single(new.clone()).with_other(old));
        let rewrapped: Vec<WrappedKey> = table
            .0
            .values()
            .map(|k| rotating.rewrap(k).unwrap())
            .collect();
        for key in rewrapped {
            assert_eq!(key.master_id, new.id());
            table.0.insert(key.reference, key);
        }
        let after = Vault::new(Keyring::single(new));
        assert_eq!(
            after.open(&mut table, "logins.ip", sealed).unwrap(),
            "192.0.2.7"
        );
    }

    #[test]
    fn erased_keys_read_as_erased_and_tampering_is_detected() {
        let vault = Vault::new(Keyring::single(MasterKey::generate()));
        let mut table = MemoryTable::default();
        let sealed = vault.seal(&mut table, "m1", "members.name", "Ada").unwrap();
        let reference = vault.reference(&mut table, "m1").unwrap();
        // Tamper with one byte of the ciphertext.
        let mut bytes = STANDARD_NO_PAD.decode(&sealed[PREFIX.len()..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{PREFIX}{}", STANDARD_NO_PAD.encode(&bytes));
        assert!(vault.open(&mut table, "members.name", tampered).is_err());

        table.0.remove(&reference);
        vault.forget();
        assert_eq!(
            vault.open(&mut table, "members.name", sealed).unwrap(),
            ERASED
        );
    }

    #[test]
    fn master_keys_parse_from_hex_and_name_bad_input() {
        let key = MasterKey::generate();
        let parsed = MasterKey::parse_hex(&format!(" {}\n", &*key.to_hex()), "test").unwrap();
        assert_eq!(parsed.id(), key.id());
        let error = MasterKey::parse_hex("abc", "KEYVAR")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("KEYVAR") && error.contains("64 hex digits"),
            "{error}"
        );
        let error = MasterKey::parse_hex(&"zz".repeat(32), "f")
            .unwrap_err()
            .to_string();
        assert!(error.contains("not hex"), "{error}");
    }
}
