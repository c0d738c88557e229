//! The client commands' session tokens on disk: one file per server and
//! user, `STATE/solec/tokens/HOST:PORT/ADDRESS`, where `STATE` is
//! `$XDG_STATE_HOME` or else `~/.local/state`. A token logs its user in
//! without the password, so the directories are made mode 0700 and each
//! file mode 0600, written whole to a temporary name and renamed, so a
//! reader never sees half of one.
//!
//! A file holds one line: the token in hex, a space, and the Unix time it
//! expires. Anything else in it is taken for no token.

use crate::client::Issued;
use crate::proto::TOKEN_LEN;
use std::fs;
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The directory under the state directory that holds token files.
const DIR: &str = "solec/tokens";

/// Where tokens for `user` on `server` (`host:port`) are kept; None when
/// neither `XDG_STATE_HOME` nor `HOME` says where the state directory is.
pub fn path_for(server: &str, user: &str) -> Option<PathBuf> {
    Some(
        state_dir()?
            .join(DIR)
            .join(component(server))
            .join(component(user)),
    )
}

/// `$XDG_STATE_HOME`, or `~/.local/state`; relative values are ignored, as
/// the XDG base directory specification says.
fn state_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME").and_then(absolute) {
        return Some(dir);
    }
    let home = std::env::var_os("HOME").and_then(absolute)?;
    Some(home.join(".local/state"))
}

/// `s` as one path component: no separator, never `.` or `..`.
fn component(s: &str) -> String {
    let safe: String = s
        .chars()
        .map(|c| if c == '/' || c == '\0' { '_' } else { c })
        .collect();
    match safe.as_str() {
        "" | "." | ".." => format!("_{safe}"),
        _ => safe,
    }
}

/// The token in `path` if it has not expired at Unix time `now`.
pub fn load(path: &Path, now: u64) -> Option<[u8; TOKEN_LEN]> {
    let text = fs::read_to_string(path).ok()?;
    let (token, expires) = text.trim_end().split_once(' ')?;
    let expires: u64 = expires.parse().ok()?;
    let token: [u8; TOKEN_LEN] = hex::decode(token).ok()?.try_into().ok()?;
    (now < expires).then_some(token)
}

/// Keeps `issued` in `path`, replacing what was there.
pub fn save(path: &Path, issued: &Issued) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("a token file needs a directory"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let _ = fs::remove_file(&partial);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)?;
    let line = format!("{} {}\n", hex::encode(issued.token), issued.expires);
    file.write_all(line.as_bytes())?;
    file.sync_all()?;
    fs::rename(&partial, path)
}

/// Forgets the token in `path` (the server refused it).
pub fn remove(path: &Path) {
    let _ = fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_stay_inside_their_directory() {
        assert_eq!(component("127.0.0.1:7447"), "127.0.0.1:7447");
        assert_eq!(component("a/../b"), "a_.._b");
        assert_eq!(component(".."), "_..");
        assert_eq!(component(""), "_");
    }

    #[test]
    fn a_saved_token_loads_until_it_expires() {
        let dir = std::env::temp_dir().join(format!("solec-tokens-{}", std::process::id()));
        let path = dir.join("s/alice@x");
        let issued = Issued {
            token: [9; TOKEN_LEN],
            expires: 100,
        };
        save(&path, &issued).unwrap();
        assert_eq!(load(&path, 99), Some([9; TOKEN_LEN]));
        assert_eq!(load(&path, 100), None);
        fs::write(&path, "zz 1000\n").unwrap();
        assert_eq!(load(&path, 1), None);
        remove(&path);
        assert_eq!(load(&path, 1), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}
