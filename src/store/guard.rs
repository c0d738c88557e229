//! A damaged file must not panic the server: redb asserts on some shapes
//! of damage (a child page of the wrong kind, a length past its page), so
//! every call into redb runs inside [`guarded`], which turns such a panic
//! into [`StoreError::Damaged`] naming the file.
//!
//! The process's panic hook still sees a caught panic; while a guard is
//! active on a thread, the hook installed here records the message for
//! the error instead of printing it, and defers to the previous hook
//! everywhere else, so panics outside the store look as they always did.

use super::StoreError;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

thread_local! {
    /// How many guards are active on this thread.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The message of the last panic caught on this thread.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if DEPTH.with(Cell::get) == 0 {
                return previous(info);
            }
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let what = payload_text(info.payload());
            CAUGHT.with(|c| *c.borrow_mut() = Some(format!("{what}{at}")));
        }));
    });
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_owned()
    }
}

/// Runs `f`, turning a panic inside it into [`StoreError::Damaged`] for
/// the file at `path`.
///
/// The store's state after such a panic is whatever redb left: the caller
/// treats the error like any other store failure (the request fails, the
/// start is refused), and later calls are guarded too.
pub fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    install_hook();
    DEPTH.with(|d| d.set(d.get() + 1));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    DEPTH.with(|d| d.set(d.get() - 1));
    result.unwrap_or_else(|payload| {
        let detail = CAUGHT
            .with(|c| c.borrow_mut().take())
            .unwrap_or_else(|| payload_text(&*payload));
        Err(StoreError::Damaged {
            path: path.to_owned(),
            detail: format!("redb failed: {detail}"),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_naming_the_file() {
        let err = guarded(Path::new("/x/solec.redb"), || -> Result<(), StoreError> {
            panic!("assertion failed: boom")
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/x/solec.redb"), "{text}");
        assert!(text.contains("assertion failed: boom"), "{text}");
        // Nested guards unwind to the innermost and leave the outer armed.
        let outer = guarded(Path::new("/a"), || {
            let inner = guarded(Path::new("/b"), || -> Result<(), StoreError> {
                panic!("in")
            });
            assert!(inner.unwrap_err().to_string().contains("/b"));
            Ok(7)
        });
        assert_eq!(outer.unwrap(), 7);
    }
}
