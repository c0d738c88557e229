//! The serial edge: opening a modem's tty in raw mode at a baud rate, and
//! the pseudo-terminals the emulator offers in place of modems.
//!
//! Only POSIX termios (`tcgetattr`/`tcsetattr`, the TCGETS/TCSETS ioctls)
//! with the standard `B*` rates is used, never Linux's termios2 (TCGETS2),
//! which qemu-user does not translate. If the port still refuses termios
//! (it is not a tty, or an emulation layer rejects the call), it is used
//! as it is and the caller is told why, rather than failing.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The baud rates termios names.
pub const BAUDS: [(u32, libc::speed_t); 16] = [
    (1200, libc::B1200),
    (2400, libc::B2400),
    (4800, libc::B4800),
    (9600, libc::B9600),
    (19200, libc::B19200),
    (38400, libc::B38400),
    (57600, libc::B57600),
    (115200, libc::B115200),
    (230400, libc::B230400),
    (460800, libc::B460800),
    (500000, libc::B500000),
    (576000, libc::B576000),
    (921600, libc::B921600),
    (1000000, libc::B1000000),
    (2000000, libc::B2000000),
    (4000000, libc::B4000000),
];

/// The termios constant for `baud`, if it has one.
pub fn speed(baud: u32) -> Option<libc::speed_t> {
    BAUDS.iter().find(|(b, _)| *b == baud).map(|(_, s)| *s)
}

/// Opens a serial port for reading and writing, raw, at `baud`. The
/// second value, when set, says why termios was not applied.
pub fn open(path: &Path, baud: u32) -> io::Result<(File, Option<String>)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(path)?;
    let warning = match make_raw(file.as_raw_fd(), speed(baud)) {
        Ok(()) => None,
        Err(e) => Some(format!(
            "{} left as it is: termios refused ({e}); fine for a pipe or an emulated port",
            path.display()
        )),
    };
    Ok((file, warning))
}

/// Raw mode: no echo, no line editing, no signals, 8N1, reads return as
/// soon as one byte is there.
pub fn make_raw(fd: RawFd, speed: Option<libc::speed_t>) -> io::Result<()> {
    // SAFETY: termios is plain data; tcgetattr fills it or fails.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open for the duration of the call; t is a valid pointer.
    if unsafe { libc::tcgetattr(fd, &mut t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: t was filled by tcgetattr.
    unsafe { libc::cfmakeraw(&mut t) };
    t.c_cflag |= libc::CLOCAL | libc::CREAD;
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    if let Some(speed) = speed {
        // SAFETY: t is a valid termios.
        if unsafe { libc::cfsetspeed(&mut t, speed) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: as above.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One pseudo-terminal: the master the emulator reads and writes, and the
/// slave a host opens as if it were a modem's serial port.
pub struct Pty {
    pub master: File,
    /// Held open so the master never sees a hang-up between hosts.
    pub slave: File,
    pub slave_path: PathBuf,
}

/// A new pty pair with the slave in raw mode.
pub fn openpty() -> io::Result<Pty> {
    // SAFETY: posix_openpt returns a new fd or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    if master < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: master is a fresh fd we own from here on.
    let master = unsafe { File::from_raw_fd(master) };
    let fd = master.as_raw_fd();
    // SAFETY: fd is a pty master.
    if unsafe { libc::grantpt(fd) } != 0 || unsafe { libc::unlockpt(fd) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: the buffer is valid for its length.
    if unsafe { libc::ptsname_r(fd, name.as_mut_ptr(), name.len()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: ptsname_r wrote a NUL-terminated string into name.
    let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let slave = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(&path)?;
    make_raw(slave.as_raw_fd(), None)?;
    Ok(Pty {
        master,
        slave,
        slave_path: PathBuf::from(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_pty_carries_raw_bytes_both_ways() {
        let pty = match openpty() {
            Ok(pty) => pty,
            // Some sandboxes have no /dev/ptmx; nothing to test there.
            Err(e) => return eprintln!("skipped: no pseudo-terminals here ({e})"),
        };
        let (mut port, warning) = open(&pty.slave_path, 115200).unwrap();
        assert_eq!(warning, None);
        let all: Vec<u8> = (0..=255).collect();
        let mut master = pty.master;
        master.write_all(&all).unwrap();
        let mut got = vec![0; 256];
        port.read_exact(&mut got).unwrap();
        assert_eq!(got, all, "no byte translated: raw mode");
        port.write_all(b"\r\n\x03\x11").unwrap();
        let mut back = [0; 4];
        master.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"\r\n\x03\x11");
    }

    #[test]
    fn a_file_that_is_not_a_tty_is_used_as_it_is() {
        let dir = std::env::temp_dir().join(format!("solec-serial-{}", std::process::id()));
        std::fs::write(&dir, b"").unwrap();
        let (_, warning) = open(&dir, 9600).unwrap();
        assert!(warning.unwrap().contains("termios refused"));
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn standard_bauds_only() {
        assert_eq!(speed(115200), Some(libc::B115200));
        assert_eq!(speed(12345), None);
    }
}
