//! Password hashes: argon2id PHC strings with parameters sized for a
//! Raspberry Pi.
//!
//! 19 MiB of memory and 2 passes (the OWASP minimum for argon2id): a login
//! costs tens of milliseconds on a Pi 4 and the server never holds more
//! than a few such checks at once. Hashing runs in the admin command and
//! verification on smol's blocking pool, never on the hub thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;

/// Memory cost in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid params");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a fresh random salt into a PHC string.
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| format!("the system has no random numbers for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `phc`. A hash that does not
/// parse never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// Whether `s` is a PHC string this module can verify against.
pub fn is_phc(s: &str) -> bool {
    PasswordHash::new(s).is_ok_and(|h| h.algorithm.as_str().starts_with("argon2"))
}

/// A hash no password is known for, checked when the user does not exist so
/// that an unknown name and a wrong password cost the same time.
///
/// Without randomness the server cannot hash safely at all, so it stops
/// rather than compare against an empty decoy (which would make unknown
/// names answer faster than wrong passwords).
pub static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash("solec decoy").expect("random numbers for the decoy salt"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash("pw").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("pw", &phc));
        assert!(!verify("pW", &phc));
        assert!(!verify("pw", "not a hash"));
        assert!(is_phc(&phc));
        assert!(!is_phc("junk"));
        assert_ne!(hash("pw").unwrap(), phc, "salts differ");
    }
}
