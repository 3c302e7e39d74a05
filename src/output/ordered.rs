//! Work on all cores, results in input order, as soon as each is ready.
//!
//! Splitting the run into batches and waiting for each batch to finish left
//! workers idle behind the slowest file of every batch. Here each pool
//! thread claims the next item the moment it is free, and the calling
//! thread takes results in order, keeping aside those that arrive early.
//! It takes them a batch at a time (or whatever is ready after a short
//! wait), not woken for each one.
//! At most `window` items are claimed ahead of the one being taken, so a
//! slow file never lets finished results pile up without bound.
//!
//! One loop runs on each pool thread (`broadcast`), never as a stealable
//! task: a worker waiting inside a unit's own parallel work can only pick
//! up that kind of work, not a second loop whose results the taker would
//! then wait for.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

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

/// Results that came back, by item, for the taker to take in order.
struct Results<R> {
    early: BTreeMap<usize, std::thread::Result<R>>,
    /// The next item the taker takes.
    wanted: usize,
    /// Every item from `wanted` up to here is in `early`.
    ready_to: usize,
    taker_waiting: bool,
    /// Every worker's loop has ended.
    closed: bool,
}

/// How long a result that arrived alone may wait for the taker.
const LATENCY: Duration = Duration::from_millis(2);

/// A panic while holding the lock cannot leave the counters half-updated
/// (each update is one store), and a panic inside the iterator is caught
/// before it unwinds through the lock, so a poisoned lock is still good.
fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(|e| e.into_inner())
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
    // A pool of the calling thread alone (`-j 1`, see [`pool`]):
    // the work runs right here, in order, with no thread to hand items to
    // and no wake-up for every result. A panic unwinds to the caller as it
    // would from the pool.
    if pool.current_num_threads() == 1 && pool.current_thread_index().is_some() {
        for item in items {
            if !take(work(item)) {
                break;
            }
        }
        return;
    }
    let window = window.max(1);
    let claims = Mutex::new(Claims {
        items,
        next: 0,
        taken: 0,
        stop: false,
        waiting: 0,
    });
    let freed = Condvar::new();
    let results = Mutex::new(Results {
        early: BTreeMap::new(),
        wanted: 0,
        ready_to: 0,
        taker_waiting: false,
        closed: false,
    });
    let arrived = Condvar::new();
    // Waking the taker for every result was a futex call and a context
    // switch per file (35–50% more CPU with two jobs than with one): it is
    // woken once a batch is ready in order, and otherwise looks every
    // LATENCY, so a slow unit's result still shows at once.
    let batch = (window / 4).max(1);
    let mut panicked = None;
    std::thread::scope(|scope| {
        let (claims, freed, work, results, arrived) = (&claims, &freed, &work, &results, &arrived);
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
                let mut r = lock(results);
                r.early.insert(i, result);
                while r.early.contains_key(&r.ready_to) {
                    r.ready_to += 1;
                }
                if r.taker_waiting && r.ready_to - r.wanted >= batch {
                    arrived.notify_one();
                }
            });
            // Every loop has ended: what is in `early` is all there is.
            lock(results).closed = true;
            arrived.notify_one();
        });
        'taking: loop {
            let ready = {
                let mut r = lock(results);
                loop {
                    let ready = r.ready_to - r.wanted;
                    if ready >= batch || r.closed {
                        break;
                    }
                    r.taker_waiting = true;
                    let (guard, waited) = arrived
                        .wait_timeout(r, LATENCY)
                        .unwrap_or_else(|e| e.into_inner());
                    r = guard;
                    r.taker_waiting = false;
                    if waited.timed_out() && r.ready_to > r.wanted {
                        break;
                    }
                }
                let mut ready = Vec::new();
                while let Some(result) = {
                    let at = r.wanted;
                    r.early.remove(&at)
                } {
                    r.wanted += 1;
                    ready.push(result);
                }
                if ready.is_empty() && r.closed {
                    break 'taking;
                }
                ready
            };
            let mut go_on = true;
            for result in ready {
                go_on = match result {
                    Ok(r) => take(r),
                    Err(payload) => {
                        panicked = Some(payload);
                        false
                    }
                };
                if !go_on {
                    break;
                }
            }
            if !go_on {
                break 'taking;
            }
            let wanted = lock(results).wanted;
            let mut c = lock(claims);
            c.taken = wanted;
            let asleep = c.waiting > 0;
            drop(c);
            if asleep {
                freed.notify_all();
            }
        }
        lock(claims).stop = true;
        freed.notify_all();
    });
    if let Some(payload) = panicked {
        panic::resume_unwind(payload);
    }
}

/// The pool [`for_each_in_order`] runs `jobs` at a time on. For one job it
/// is the calling thread itself, so that a unit's own parallel work
/// (verify's re-parses, the rules of a big server) runs inline on it and
/// nothing else is started. rayon keeps such a pool's registry for the
/// life of the process, and a thread can be in only one: a thread that
/// already is gets a pool of one new thread instead.
pub fn pool(jobs: usize) -> Result<ThreadPool, rayon::ThreadPoolBuildError> {
    let threads = || rayon::ThreadPoolBuilder::new().num_threads(jobs);
    if jobs != 1 {
        return threads().build();
    }
    threads()
        .use_current_thread()
        .build()
        .or_else(|_| threads().build())
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

    /// Results are taken in batches, but one that is ready while the next
    /// is slow does not wait for the batch to fill.
    #[test]
    fn a_result_ready_alone_is_taken_before_a_slow_next_one_finishes() {
        use std::sync::atomic::AtomicBool;
        let slow_done = AtomicBool::new(false);
        let mut first_taken_before_slow = None;
        for_each_in_order(
            &pool(2),
            0..2usize,
            64,
            |i| {
                if i == 1 {
                    std::thread::sleep(Duration::from_millis(300));
                    slow_done.store(true, Ordering::SeqCst);
                }
                i
            },
            |i| {
                if i == 0 {
                    first_taken_before_slow = Some(!slow_done.load(Ordering::SeqCst));
                }
                true
            },
        );
        assert_eq!(first_taken_before_slow, Some(true));
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

    /// `-j 1`: everything runs on the calling thread, in order, a unit's
    /// own parallel work included, and stopping early starts nothing more.
    /// On a thread that is already some pool's, the pool is one new thread
    /// and the results are the same.
    #[test]
    fn a_pool_of_the_calling_thread_runs_the_work_inline() {
        std::thread::spawn(|| {
            use rayon::prelude::*;
            let caller = std::thread::current().id();
            for round in 0..2 {
                let pool = super::pool(1).unwrap();
                assert_eq!(pool.current_thread_index().is_some(), round == 0);
                let started = AtomicUsize::new(0);
                let mut seen = Vec::new();
                for_each_in_order(
                    &pool,
                    0..50u64,
                    4,
                    |i| {
                        started.fetch_add(1, Ordering::SeqCst);
                        let nested: u64 = (0..100u64).into_par_iter().map(|k| k * i).sum();
                        (i, nested, std::thread::current().id() == caller)
                    },
                    |r| {
                        seen.push(r);
                        r.0 < 29
                    },
                );
                let expected: Vec<(u64, u64, bool)> =
                    (0..30).map(|i| (i, 4950 * i, round == 0)).collect();
                assert_eq!(seen, expected, "round {round}");
                if round == 0 {
                    assert_eq!(started.load(Ordering::SeqCst), 30);
                }
            }
        })
        .join()
        .unwrap();
    }
}
