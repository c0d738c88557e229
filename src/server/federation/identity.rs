//! This server's Ed25519 key pair and the text form of public keys.
//!
//! The secret key lives in `DATA/server.key`, created on first start with
//! mode 0600 from the start (never readable by others, not even for an
//! instant) and kept across restarts. A public key is written
//! `ed25519:BASE64` (standard alphabet, padded); its fingerprint is
//! `SHA256:BASE64` of the key's 32 bytes, unpadded, as ssh shows keys.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::Digest as _;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// The secret key's file inside the data directory.
pub const KEY_FILE: &str = "server.key";

/// What the key file holds before the base64 seed.
const SECRET_PREFIX: &str = "ed25519-secret:";

/// What a public key's text starts with.
pub const PUBLIC_PREFIX: &str = "ed25519:";

/// This server's key pair.
pub struct Identity {
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    /// Shows the public half only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", key_text(&self.public()))
    }
}

impl Identity {
    /// The key pair of a 32-byte secret seed (RFC 8032's "secret key").
    pub fn from_seed(seed: [u8; 32]) -> Identity {
        Identity {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// A new key pair from the OS generator.
    pub fn generate() -> Result<Identity, String> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| format!("no randomness for a key: {e}"))?;
        Ok(Identity::from_seed(seed))
    }

    /// Reads the key of data directory `data`, creating it if absent.
    pub fn load_or_create(data: &Path) -> Result<Identity, String> {
        let path = data.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => return parse_secret(&path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
        let id = Identity::generate()?;
        match write_new(&path, &id) {
            Ok(()) => {
                log::info!("created server key {}", path.display());
                Ok(id)
            }
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                parse_secret(&path, &text)
            }
            Err(e) => Err(format!("cannot create {}: {e}", path.display())),
        }
    }

    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

/// Writes the key to a fresh file created 0600, then links it into place,
/// so the key file is never partly written nor, for an instant, readable
/// by others.
fn write_new(path: &Path, id: &Identity) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let text = format!("{SECRET_PREFIX}{}\n", STANDARD.encode(id.key.to_bytes()));
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    written
}

fn parse_secret(path: &Path, text: &str) -> Result<Identity, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} is readable by other users; `chmod 600` it (and consider the key leaked)",
            path.display()
        ));
    }
    let seed = text
        .trim()
        .strip_prefix(SECRET_PREFIX)
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| format!("{} is not a solec server key", path.display()))?;
    Ok(Identity::from_seed(seed))
}

/// `ed25519:BASE64` of a public key.
pub fn key_text(key: &[u8; 32]) -> String {
    format!("{PUBLIC_PREFIX}{}", STANDARD.encode(key))
}

/// Parses `ed25519:BASE64` into a public key that Ed25519 accepts.
pub fn parse_key(text: &str) -> Result<[u8; 32], String> {
    let bad = || format!("`{text}` is not a key: expected ed25519: and 44 characters of base64");
    let bytes = text
        .strip_prefix(PUBLIC_PREFIX)
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(bad)?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| format!("`{text}` is not an Ed25519 public key"))?;
    Ok(bytes)
}

/// `SHA256:BASE64`, unpadded: what `solec federate list` shows.
pub fn fingerprint(key: &[u8; 32]) -> String {
    format!(
        "SHA256:{}",
        STANDARD_NO_PAD.encode(sha2::Sha256::digest(key))
    )
}

/// Whether `signature` is `key`'s signature of `message`. Strict: a
/// signature with a non-canonical encoding or a weak key is refused, so
/// no second signature of the same message verifies.
pub fn verify(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    key.verify_strict(message, &Signature::from_bytes(signature))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_created_once_owner_only_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = Identity::load_or_create(dir.path()).unwrap();
        assert_eq!(first.public(), again.public());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Identity::load_or_create(dir.path()).is_err());
    }

    #[test]
    fn key_text_round_trips_and_bad_keys_are_refused() {
        let id = Identity::from_seed([7; 32]);
        let text = key_text(&id.public());
        assert_eq!(parse_key(&text), Ok(id.public()));
        assert!(!format!("{id:?}").contains(&STANDARD.encode([7u8; 32])));
        for bad in [
            "",
            "ed25519:",
            "ed25519:AAAA",
            "rsa:AAAA",
            &text[1..],
            &text[..text.len() - 2],
        ] {
            assert!(parse_key(bad).is_err(), "{bad}");
        }
        assert!(fingerprint(&id.public()).starts_with("SHA256:"));
    }
}
