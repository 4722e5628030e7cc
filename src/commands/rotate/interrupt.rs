//! Ctrl-C during a rotation. The first press stops it after the write in flight; the second stops
//! at once, even inside a write or a wait for GitHub's limits: the journal then holds that write
//! as sent without an answer, which `--resume` sends again, as after a kill. Either way the run
//! ends normally, with its table or JSON document and exit 130.

use std::sync::Arc;

use tokio::sync::watch;

use crate::output::Progress;
use crate::work::interrupt::Handling;

pub struct Interrupt {
    /// How many times Ctrl-C was pressed.
    presses: Arc<watch::Sender<u8>>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Interrupt {
    /// Takes Ctrl-C over from the default (which would end the process) until dropped.
    pub fn watch(progress: Progress) -> Interrupt {
        let mut handling = Handling::begin();
        let presses = Arc::new(watch::Sender::new(0));
        let counted = presses.clone();
        let watcher = tokio::spawn(async move {
            for press in 1..=2 {
                handling.pressed().await;
                counted.send_replace(press);
                if press == 1 {
                    progress
                        .step("Stopping after the write in flight (Ctrl-C again stops at once).");
                }
            }
            // Later presses are absorbed until the rotation ends: ending the process then could
            // fall between an answer and its journal line.
            std::future::pending::<()>().await;
        });
        Interrupt { presses, watcher }
    }

    pub fn stop_requested(&self) -> bool {
        *self.presses.borrow() >= 1
    }

    /// Resolves at the first Ctrl-C.
    pub async fn stopped(&self) {
        self.until(1).await
    }

    /// `work`'s result, or `None` when Ctrl-C is pressed twice before it is done.
    pub async fn unless_aborted<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        tokio::select! {
            biased;
            value = work => Some(value),
            () = self.until(2) => None,
        }
    }

    async fn until(&self, presses: u8) {
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = self
            .presses
            .subscribe()
            .wait_for(|pressed| *pressed >= presses)
            .await;
    }

    #[cfg(test)]
    fn press(&self) {
        self.presses.send_modify(|pressed| *pressed += 1);
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        self.watcher.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_finishes_after_one_press_and_is_abandoned_after_two() {
        let interrupt = Interrupt::watch(Progress::new(true));
        interrupt.press();
        assert!(interrupt.stop_requested());
        let done = interrupt
            .unless_aborted(tokio::time::sleep(std::time::Duration::from_millis(10)))
            .await;
        assert_eq!(done, Some(()));
        interrupt.press();
        let abandoned = interrupt
            .unless_aborted(tokio::time::sleep(std::time::Duration::from_secs(60)))
            .await;
        assert_eq!(abandoned, None);
    }
}
