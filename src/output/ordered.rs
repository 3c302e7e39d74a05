//! Work on all cores, results in input order, as soon as each is ready.
//!
//! Splitting the run into batches and waiting for each batch to finish left
//! workers idle behind the slowest file of every batch. Here each pool
//! thread claims the next item the moment it is free, and the calling
//! thread takes results in order, keeping aside those that arrive early.
//! At most `window` items are claimed ahead of the one being taken, so a
//! slow file never lets finished results pile up without bound.
//!
//! One loop runs on each pool thread (`broadcast`), never as a stealable
//! task: a worker waiting inside a unit's own parallel work can only pick
//! up that kind of work, not a second loop whose results the taker would
//! then wait for.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{mpsc, Condvar, Mutex, MutexGuard};

use rayon::ThreadPool;

struct Claims {
    next: usize,
    taken: usize,
    stop: bool,
}

/// A panic while holding the lock cannot leave the counters half-updated
/// (each update is one store), so a poisoned lock is still good to use.
fn lock(claims: &Mutex<Claims>) -> MutexGuard<'_, Claims> {
    claims.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `work` on every item on `pool`'s threads and gives the results to
/// `take`, on the calling thread, in the order of `items`. `take` returns
/// false to stop: no further item is started, and results still in flight
/// are dropped. A panic in `work` stops the run and resumes on the caller.
pub fn for_each_in_order<T, R>(
    pool: &ThreadPool,
    items: &[T],
    window: usize,
    work: impl Fn(&T) -> R + Sync,
    mut take: impl FnMut(R) -> bool,
) where
    T: Sync,
    R: Send,
{
    let window = window.max(1);
    let claims = Mutex::new(Claims {
        next: 0,
        taken: 0,
        stop: false,
    });
    let freed = Condvar::new();
    let (tx, rx) = mpsc::channel();
    let mut panicked = None;
    std::thread::scope(|scope| {
        let (claims, freed, work) = (&claims, &freed, &work);
        scope.spawn(move || {
            pool.broadcast(|_| loop {
                let i = {
                    let mut c = lock(claims);
                    while !c.stop && c.next < items.len() && c.next >= c.taken + window {
                        c = freed.wait(c).unwrap_or_else(|e| e.into_inner());
                    }
                    if c.stop || c.next >= items.len() {
                        break;
                    }
                    c.next += 1;
                    c.next - 1
                };
                let result = panic::catch_unwind(AssertUnwindSafe(|| work(&items[i])));
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
            // `tx` is dropped here, after every loop ended: the taker sees
            // the channel close if it is still waiting.
        });
        let mut early = BTreeMap::new();
        let mut wanted = 0;
        'taking: while wanted < items.len() {
            let Ok((i, result)) = rx.recv() else { break };
            early.insert(i, result);
            while let Some(result) = early.remove(&wanted) {
                wanted += 1;
                let go_on = match result {
                    Ok(r) => take(r),
                    Err(payload) => {
                        panicked = Some(payload);
                        false
                    }
                };
                if !go_on {
                    break 'taking;
                }
                lock(claims).taken = wanted;
                freed.notify_all();
            }
        }
        lock(claims).stop = true;
        freed.notify_all();
        drop(rx);
    });
    if let Some(payload) = panicked {
        panic::resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn pool(n: usize) -> ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    }

    #[test]
    fn results_come_in_input_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..200).collect();
        let mut seen = Vec::new();
        for_each_in_order(
            &pool(4),
            &items,
            8,
            |&i| {
                // Early items are the slow ones.
                std::thread::sleep(Duration::from_micros((200 - i) * 20));
                i * 2
            },
            |r| {
                seen.push(r);
                true
            },
        );
        assert_eq!(seen, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn no_more_than_the_window_is_claimed_ahead() {
        let items: Vec<usize> = (0..100).collect();
        let started = AtomicUsize::new(0);
        let mut taken = 0;
        for_each_in_order(
            &pool(3),
            &items,
            5,
            |&i| {
                started.fetch_add(1, Ordering::SeqCst);
                if i == 0 {
                    std::thread::sleep(Duration::from_millis(50));
                }
                i
            },
            |i| {
                // While item 0 was slow, the others could run at most
                // `window` items past it.
                if i == 0 {
                    assert!(started.load(Ordering::SeqCst) <= 5);
                }
                taken += 1;
                true
            },
        );
        assert_eq!(taken, 100);
    }

    #[test]
    fn stopping_starts_nothing_more() {
        let items: Vec<usize> = (0..1000).collect();
        let started = AtomicUsize::new(0);
        let mut taken = Vec::new();
        for_each_in_order(
            &pool(2),
            &items,
            4,
            |&i| {
                started.fetch_add(1, Ordering::SeqCst);
                i
            },
            |i| {
                taken.push(i);
                i < 9
            },
        );
        assert_eq!(taken, (0..10).collect::<Vec<_>>());
        assert!(started.load(Ordering::SeqCst) <= 10 + 4);
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let items: Vec<usize> = (0..50).collect();
        let r = panic::catch_unwind(|| {
            for_each_in_order(
                &pool(2),
                &items,
                4,
                |&i| {
                    assert!(i != 7, "item seven");
                    i
                },
                |_| true,
            )
        });
        let payload = r.unwrap_err();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
        assert_eq!(message, Some("item seven"));
    }

    #[test]
    fn nested_parallel_work_inside_an_item_still_finishes() {
        let items: Vec<u64> = (0..40).collect();
        let mut sum = 0;
        for_each_in_order(
            &pool(2),
            &items,
            2,
            |&i| {
                use rayon::prelude::*;
                (0..1000u64).into_par_iter().map(|k| k * i).sum::<u64>()
            },
            |s| {
                sum += s;
                true
            },
        );
        assert_eq!(sum, (0..40u64).sum::<u64>() * (0..1000u64).sum::<u64>());
    }
}
