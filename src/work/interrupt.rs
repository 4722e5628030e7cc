//! Ctrl-C while keyfix has something of its own to undo first (a throwaway branch, a rotation's
//! write in flight). One task listens for Ctrl-C for the whole process: while some part is
//! [`Handling`] it, each press goes to that part; otherwise the press ends keyfix (exit 130), as
//! Ctrl-C does by default. Deciding at the press itself is what keeps a press that arrives just
//! as a part stops handling from being lost.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use tokio::sync::watch;

/// How many parts of keyfix are handling Ctrl-C themselves right now.
static HANDLING: AtomicUsize = AtomicUsize::new(0);
/// How many presses went to the parts handling them.
static PRESSES: OnceLock<watch::Sender<u64>> = OnceLock::new();

fn presses() -> &'static watch::Sender<u64> {
    PRESSES.get_or_init(|| {
        tokio::spawn(async {
            while tokio::signal::ctrl_c().await.is_ok() {
                if HANDLING.load(Ordering::SeqCst) == 0 {
                    std::process::exit(130);
                }
                if let Some(presses) = PRESSES.get() {
                    presses.send_modify(|n| *n += 1);
                }
            }
        });
        watch::Sender::new(0)
    })
}

/// While alive, Ctrl-C is this part's to handle; before and after, Ctrl-C ends keyfix (exit 130).
pub struct Handling {
    pressed: watch::Receiver<u64>,
}

impl Handling {
    pub fn begin() -> Handling {
        HANDLING.fetch_add(1, Ordering::SeqCst);
        let mut pressed = presses().subscribe();
        pressed.mark_unchanged();
        Handling { pressed }
    }

    /// Resolves at the next press of Ctrl-C.
    pub async fn pressed(&mut self) {
        // The sender is a static: it is never dropped, so waiting cannot fail.
        let _ = self.pressed.changed().await;
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        HANDLING.fetch_sub(1, Ordering::SeqCst);
    }
}
