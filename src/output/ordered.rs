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

struct Claims<I> {
    items: I,
    next: usize,
    taken: usize,
    stop: bool,
    /// Workers asleep on `freed`: the taker wakes them only when there
    /// are any, not with a futex call for every result.
    waiting: usize,
}

/// A panic while holding the lock cannot leave the counters half-updated
/// (each update is one store), and a panic inside the iterator is caught
/// before it unwinds through the lock, so a poisoned lock is still good.
fn lock<I>(claims: &Mutex<Claims<I>>) -> MutexGuard<'_, Claims<I>> {
    claims.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `work` on every item on `pool`'s threads and gives the results to
/// `take`, on the calling thread, in the order of `items`. `take` returns
/// false to stop: no further item is started, and results still in flight
/// are dropped. A panic in `work` stops the run and resumes on the caller.
///
/// `items` is pulled one item at a time, under the lock, as workers free
/// up: a lazy iterator (a directory walk) is never held whole in memory.
pub fn for_each_in_order<I, R>(
    pool: &ThreadPool,
    items: I,
    window: usize,
    work: impl Fn(I::Item) -> R + Sync,
    mut take: impl FnMut(R) -> bool,
) where
    I: Iterator + Send,
    I::Item: Send,
    R: Send,
{
    let window = window.max(1);
    let claims = Mutex::new(Claims {
        items,
        next: 0,
        taken: 0,
        stop: false,
        waiting: 0,
    });
    let freed = Condvar::new();
    let (tx, rx) = mpsc::channel();
    let mut panicked = None;
    std::thread::scope(|scope| {
        let (claims, freed, work) = (&claims, &freed, &work);
        scope.spawn(move || {
            pool.broadcast(|_| loop {
                let claimed = {
                    let mut c = lock(claims);
                    while !c.stop && c.next >= c.taken + window {
                        c.waiting += 1;
                        c = freed.wait(c).unwrap_or_else(|e| e.into_inner());
                        c.waiting -= 1;
                    }
                    if c.stop {
                        break;
                    }
                    match panic::catch_unwind(AssertUnwindSafe(|| c.items.next())) {
                        Ok(Some(item)) => {
                            c.next += 1;
                            Ok((c.next - 1, item))
                        }
                        Ok(None) => {
                            c.stop = true;
                            freed.notify_all();
                            break;
                        }
                        Err(payload) => {
                            c.stop = true;
                            freed.notify_all();
                            Err((c.next, payload))
                        }
                    }
                };
                let (i, result) = match claimed {
                    Ok((i, item)) => (i, panic::catch_unwind(AssertUnwindSafe(|| work(item)))),
                    Err((i, payload)) => (i, Err(payload)),
                };
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
            // `tx` is dropped here, after every loop ended: the taker sees
            // the channel close once every result is in.
        });
        let mut early = BTreeMap::new();
        let mut wanted = 0;
        'taking: while let Ok((i, result)) = rx.recv() {
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
                let mut c = lock(claims);
                c.taken = wanted;
                let asleep = c.waiting > 0;
                drop(c);
                if asleep {
                    freed.notify_all();
                }
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
            items.iter(),
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
            items.iter(),
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
            items.iter(),
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
                items.iter(),
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
            items.iter(),
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

    #[test]
    fn a_lazy_iterator_is_pulled_no_further_than_the_window() {
        let pulled = AtomicUsize::new(0);
        let items = (0..1000usize).inspect(|_| {
            pulled.fetch_add(1, Ordering::SeqCst);
        });
        let mut taken = 0;
        for_each_in_order(
            &pool(2),
            items,
            4,
            |i| i,
            |i| {
                // Item i is being taken: at most `window` items past it
                // were pulled from the iterator.
                assert!(pulled.load(Ordering::SeqCst) <= i + 1 + 4);
                taken += 1;
                true
            },
        );
        assert_eq!(taken, 1000);
        assert_eq!(pulled.load(Ordering::SeqCst), 1000);
    }

    #[test]
    fn a_panic_in_the_iterator_reaches_the_caller_after_earlier_results() {
        let items = (0..50usize).inspect(|&i| assert!(i != 20, "item twenty"));
        let mut taken = Vec::new();
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            for_each_in_order(
                &pool(2),
                items,
                4,
                |i| i,
                |i| {
                    taken.push(i);
                    true
                },
            )
        }));
        assert!(r.is_err());
        assert_eq!(taken, (0..20).collect::<Vec<_>>());
    }
}
