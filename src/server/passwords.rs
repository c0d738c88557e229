//! Password hashes: argon2id PHC strings with parameters sized for a
//! Raspberry Pi.
//!
//! 19 MiB of memory and 2 passes (the OWASP minimum for argon2id): a login
//! costs tens of milliseconds on a Pi 4 and the server never holds more
//! than a few such checks at once. Hashing runs in the admin command and
//! verification on smol's blocking pool, never on the hub thread.
//!
//! A PHC string carries its own parameters, and checking a password
//! against it costs what they say: a hash of 256 MiB makes every login
//! attempt allocate 256 MiB. So a hash is only taken (from the admin
//! socket) or checked (from the store) within [`Bounds`], which default
//! to the parameters this module hashes with.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;

/// Memory cost in KiB.
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

/// The most a hash may cost to check; a hash over any bound is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Memory cost in KiB (`m`).
    pub memory_kib: u32,
    /// Passes (`t`).
    pub passes: u32,
    /// Lanes (`p`).
    pub lanes: u32,
}

impl Default for Bounds {
    /// What [`hash`] makes, so every hash `solec user` writes is within.
    fn default() -> Self {
        Bounds {
            memory_kib: MEMORY_KIB,
            passes: ITERATIONS,
            lanes: PARALLELISM,
        }
    }
}

impl Bounds {
    /// Refuses the parameters of `hash` over a bound, naming it.
    fn check(&self, hash: &PasswordHash<'_>) -> Result<(), String> {
        let params = Params::try_from(hash).map_err(|e| format!("bad parameters: {e}"))?;
        for (what, got, most, key) in [
            (
                "m",
                params.m_cost(),
                self.memory_kib,
                "max_argon2_memory_kib",
            ),
            ("t", params.t_cost(), self.passes, "max_argon2_passes"),
            ("p", params.p_cost(), self.lanes, "max_argon2_lanes"),
        ] {
            if got > most {
                return Err(format!(
                    "argon2 {what}={got} is over the server's bound of {most} ({key})"
                ));
            }
        }
        Ok(())
    }
}

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
/// parse never matches; one over `bounds` is not checked at all, and the
/// error says why.
pub fn verify(password: &str, phc: &str, bounds: &Bounds) -> Result<bool, String> {
    let Ok(hash) = PasswordHash::new(phc) else {
        return Ok(false);
    };
    bounds.check(&hash)?;
    Ok(argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// Refuses `s` unless it is an argon2 PHC string within `bounds`.
pub fn check_phc(s: &str, bounds: &Bounds) -> Result<(), String> {
    let hash = PasswordHash::new(s)
        .ok()
        .filter(|h| h.algorithm.as_str().starts_with("argon2"))
        .ok_or("the hash is not an argon2 PHC string")?;
    bounds
        .check(&hash)
        .map_err(|e| format!("the hash is refused: {e}"))
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
        let b = Bounds::default();
        let phc = hash("pw").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(verify("pw", &phc, &b), Ok(true));
        assert_eq!(verify("pW", &phc, &b), Ok(false));
        assert_eq!(verify("pw", "not a hash", &b), Ok(false));
        assert_eq!(check_phc(&phc, &b), Ok(()));
        assert!(check_phc("junk", &b).is_err());
        assert_ne!(hash("pw").unwrap(), phc, "salts differ");
    }

    /// A PHC string with the given parameters; its salt and output are
    /// well formed, so only the parameters can refuse it.
    fn phc_with(m: u32, t: u32, p: u32) -> String {
        format!("$argon2id$v=19$m={m},t={t},p={p}$c29tZXNhbHRzb21lc2FsdA$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ")
    }

    #[test]
    fn hashes_over_a_bound_are_refused_unchecked() {
        let b = Bounds::default();
        assert_eq!(check_phc(&phc_with(19456, 2, 1), &b), Ok(()));
        assert_eq!(check_phc(&phc_with(8, 1, 1), &b), Ok(()));
        for (phc, named) in [
            (phc_with(262_144, 2, 1), "m=262144"),
            (phc_with(19456, 3, 1), "t=3"),
            (phc_with(19456, 2, 2), "p=2"),
        ] {
            let err = check_phc(&phc, &b).unwrap_err();
            assert!(err.contains(named), "{err}");
            // Refused before argon2 would allocate its memory.
            let err = verify("pw", &phc, &b).unwrap_err();
            assert!(err.contains(named), "{err}");
        }
        let roomy = Bounds {
            memory_kib: 262_144,
            ..b
        };
        assert_eq!(check_phc(&phc_with(262_144, 2, 1), &roomy), Ok(()));
    }
}
