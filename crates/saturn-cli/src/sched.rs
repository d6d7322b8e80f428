//! Scheduling per-function work over threads: the three policies and the
//! GNU make jobserver.
//!
//! # Policies (no jobserver)
//!
//! All policies run on ONE rayon pool of `--threads` threads:
//!
//! * [`Policy::Function`]: a parallel iterator over the functions on the
//!   pool; each function is optimized single-threaded (the saturation runner
//!   marks its thread sequential, so no rayon job of one function is ever
//!   interleaved with another).
//! * [`Policy::Intra`]: the functions one after the other on the calling
//!   thread, each handed the pool (parallel saturation phases).
//! * [`Policy::Nested`]: a parallel iterator over the functions on the pool,
//!   each also handed the pool; rayon work stealing mixes the two levels
//!   (a thread waiting inside one function's `join` may run another
//!   function's job).
//!
//! Results are collected by index, and `saturn_clif::optimize` does not
//! depend on the number of threads, so the output is the same for every
//! policy and thread count.
//!
//! # Jobserver
//!
//! When the process was started with a jobserver (`MAKEFLAGS` /
//! `CARGO_MAKEFLAGS`, see [`crate::jobserver_from_env`]) and `--threads` is
//! more than 1, the process only keeps a thread busy while it holds a token
//! for it (the process's *implicit* token covers one thread):
//!
//! * Function-level work (policies `function` and `nested`) runs on our own
//!   scoped worker threads that pull function indices from a shared atomic
//!   counter. Worker 0 (the calling thread) runs on the implicit token;
//!   workers 1..N-1 wait for a token before taking each function and give
//!   it back (drop) right after it, so an idle worker never holds a token.
//!   Tokens are requested from jobserver's helper thread
//!   (`Client::into_helper_thread`), not with a blocking `acquire`: when
//!   worker 0 has taken the last function the helper is stopped, which
//!   interrupts its wait. (A blocking `acquire` deadlocks when several such
//!   processes hold every token and each waits for one more.)
//! * Intra-function threads (policies `intra` and `nested`): before each
//!   function, the thread that runs it takes up to N-1 *extra* tokens
//!   without blocking (`Client::try_acquire`) and runs the function on a
//!   pool of 1 + (tokens taken) threads (pools are built once per size and
//!   cached); the tokens go back when the function is done. The thread that
//!   calls into the pool only waits, so its own token pays for one pool
//!   thread. Jobservers whose tokens cannot be taken without blocking (the
//!   anonymous pipes of GNU make 4.3 and older, `Client::new`) report
//!   `Unsupported`: the function then runs single-threaded. Intra-function
//!   threads are therefore never used without a token.
//! * Per-file work ([`Exec::map_each`]: reading and parsing the inputs,
//!   writing the outputs) takes extra tokens the same way, once for all
//!   the files, and gives them back when the files are done.
//! * The engine's idle pool threads normally poll for the next parallel
//!   phase for a while before they sleep ([`saturn::spin_wait`]). Under a
//!   jobserver that wait is set to zero: a thread still polling after its
//!   function ended would use a core that no token pays for.
//!
//! Thread counts never change the output, so token availability only
//! changes speed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

/// Stack size of every thread that optimizes functions (as `clif-bench`,
/// whose main thread gets 512 MiB: recursion over deep CLIF can be deep;
/// only the pages touched are committed).
pub const STACK_SIZE: usize = 512 << 20;

/// How work is split over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Functions in parallel, each optimized single-threaded.
    Function,
    /// Functions in sequence, each optimized with all threads.
    Intra,
    /// Functions in parallel, each also given the pool.
    Nested,
}

impl Policy {
    /// All policies, in table order.
    pub const ALL: [Policy; 3] = [Policy::Function, Policy::Intra, Policy::Nested];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Function => "function",
            Policy::Intra => "intra",
            Policy::Nested => "nested",
        }
    }
}

/// The threads one function may use: `threads` and the pool to run them on
/// (`None` when single-threaded).
#[derive(Clone)]
pub struct Par {
    /// Threads for this function's saturation.
    pub threads: usize,
    /// The pool to run them on.
    pub pool: Option<Arc<rayon::ThreadPool>>,
}

impl Par {
    fn single() -> Par {
        Par {
            threads: 1,
            pool: None,
        }
    }
}

/// Runs per-item work with a [`Policy`] over `threads` threads, optionally
/// under a jobserver.
pub struct Exec {
    policy: Policy,
    threads: usize,
    pool: Option<Arc<rayon::ThreadPool>>,
    jobserver: Option<jobserver::Client>,
    /// Pools by size for intra-function and per-file work under a
    /// jobserver.
    sized_pools: Mutex<Vec<Option<Arc<rayon::ThreadPool>>>>,
    /// Set once `try_acquire` said `Unsupported`.
    no_try_acquire: AtomicBool,
    /// Most tokens (implicit one included) held at once, for reports/tests.
    max_tokens: AtomicUsize,
    tokens: AtomicUsize,
}

fn build_pool(threads: usize) -> Result<Arc<rayon::ThreadPool>, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(STACK_SIZE)
        .thread_name(|i| format!("saturn-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| format!("cannot build a pool of {threads} threads: {e}"))
}

/// Holds one jobserver token and counts it while held.
struct Token<'a> {
    _acquired: jobserver::Acquired,
    exec: &'a Exec,
}

impl Drop for Token<'_> {
    fn drop(&mut self) {
        self.exec.tokens.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Exec {
    /// An executor for `threads` threads (at least 1). With a jobserver the
    /// big pool is not built: threads come and go with tokens.
    pub fn new(
        policy: Policy,
        threads: usize,
        jobserver: Option<jobserver::Client>,
    ) -> Result<Exec, String> {
        let threads = threads.max(1);
        if threads > 1 && jobserver.is_some() {
            // Pool threads give their tokens back when a function ends; one
            // left polling for a next phase would run without a token.
            saturn::set_spin_wait(std::time::Duration::ZERO);
        }
        let pool = if threads > 1 && jobserver.is_none() {
            Some(build_pool(threads)?)
        } else {
            None
        };
        Ok(Exec {
            policy,
            threads,
            pool,
            jobserver,
            sized_pools: Mutex::new(vec![]),
            no_try_acquire: AtomicBool::new(false),
            max_tokens: AtomicUsize::new(1),
            tokens: AtomicUsize::new(1),
        })
    }

    /// Whether work is gated by a jobserver.
    pub fn uses_jobserver(&self) -> bool {
        self.jobserver.is_some() && self.threads > 1
    }

    /// The most tokens held at once (the implicit token counts as one).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens.load(Ordering::SeqCst)
    }

    fn count_token(&self, acquired: jobserver::Acquired) -> Token<'_> {
        let now = self.tokens.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_tokens.fetch_max(now, Ordering::SeqCst);
        Token {
            _acquired: acquired,
            exec: self,
        }
    }

    /// Maps `f` over `items`, an item per task on the pool (for per-file
    /// work: reading and parsing the inputs, writing the outputs); results
    /// are in input order. On the calling thread with one thread. Under a
    /// jobserver, on as many more threads as it has tokens free right now
    /// (taken without waiting, up to `threads - 1` and one per item but
    /// the first, and given back at the end), or on the calling thread
    /// when it has none or there is one item.
    pub fn map_each<T: Send, R: Send>(&self, items: Vec<T>, f: &(dyn Fn(T) -> R + Sync)) -> Vec<R> {
        let on = |pool: &rayon::ThreadPool, items: Vec<T>| {
            pool.install(|| items.into_par_iter().with_max_len(1).map(f).collect())
        };
        if self.threads > 1 && !items.is_empty() {
            match (&self.pool, &self.jobserver) {
                // Even one item goes to the pool: its work may spread there
                // (a large file is parsed in pieces, see `opt::parse_file`).
                (Some(pool), None) => return on(pool, items),
                (_, Some(client)) if items.len() > 1 => {
                    // Held until the items are done.
                    let extra = self.try_take(client, self.threads.min(items.len()) - 1);
                    if let Ok(Par {
                        pool: Some(pool), ..
                    }) = self.sized(1 + extra.len())
                    {
                        return on(&pool, items);
                    }
                }
                _ => {}
            }
        }
        // One thread, one item under a jobserver, no token free, or no
        // pool: this thread (with its implicit token).
        items.into_iter().map(f).collect()
    }

    /// Maps `f` over `items`; results are in input order. `f` gets the
    /// threads it may use for the item. A panic in `f` for one item is
    /// caught and returned as `Err` for that item (with the panic message).
    pub fn map<T: Send, R: Send>(
        &self,
        items: Vec<T>,
        f: &(dyn Fn(T, Par) -> R + Sync),
    ) -> Result<Vec<Result<R, String>>, String> {
        let call = |t: T, p: Par| -> Result<R, String> {
            catch_unwind(AssertUnwindSafe(|| f(t, p))).map_err(|e| panic_message(&*e))
        };
        if self.threads == 1 {
            return Ok(items.into_iter().map(|t| call(t, Par::single())).collect());
        }
        if let Some(client) = self.jobserver.as_ref() {
            return self.map_jobserver(client, items, &call);
        }
        let pool = self.pool.clone().expect("threads > 1 has a pool");
        let whole = Par {
            threads: self.threads,
            pool: Some(pool.clone()),
        };
        Ok(match self.policy {
            Policy::Function => pool.install(|| {
                items
                    .into_par_iter()
                    .with_max_len(1)
                    .map(|t| call(t, Par::single()))
                    .collect()
            }),
            Policy::Intra => items.into_iter().map(|t| call(t, whole.clone())).collect(),
            Policy::Nested => pool.install(|| {
                items
                    .into_par_iter()
                    .with_max_len(1)
                    .map(|t| call(t, whole.clone()))
                    .collect()
            }),
        })
    }

    fn map_jobserver<T: Send, R: Send>(
        &self,
        client: &jobserver::Client,
        items: Vec<T>,
        call: &(dyn Fn(T, Par) -> Result<R, String> + Sync),
    ) -> Result<Vec<Result<R, String>>, String> {
        let intra = matches!(self.policy, Policy::Intra | Policy::Nested);
        let run_one = |t: T| -> Result<R, String> {
            if !intra {
                return call(t, Par::single());
            }
            let extra = self.try_take(client, self.threads - 1);
            let par = self.sized(1 + extra.len())?;
            let r = call(t, par);
            drop(extra); // give the extra tokens back as soon as we are done
            r
        };
        if self.policy == Policy::Intra {
            return Ok(items.into_iter().map(run_one).collect());
        }
        // Function-level workers; each slot is taken by exactly one worker.
        let n = items.len();
        if n == 0 {
            return Ok(vec![]);
        }
        let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
        let results: Vec<Mutex<Option<Result<R, String>>>> =
            (0..n).map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        // Runs functions until none is left; the caller holds a token.
        let take_and_run = || -> bool {
            let i = next.fetch_add(1, Ordering::SeqCst);
            if i >= n {
                return false;
            }
            let t = slots[i].lock().expect("lock").take().expect("taken once");
            let r = run_one(t);
            *results[i].lock().expect("lock") = Some(r);
            true
        };
        // Tokens for workers 1..N-1 come from jobserver's helper thread, which
        // can be stopped while it waits (a plain blocking `acquire` could
        // wait forever when every token is held by processes like this one).
        let extra = self.threads.min(n) - 1;
        let (tx, rx) = std::sync::mpsc::channel::<std::io::Result<jobserver::Acquired>>();
        let helper = client
            .clone()
            .into_helper_thread(move |t| {
                let _ = tx.send(t);
            })
            .map_err(|e| format!("cannot start the jobserver helper thread: {e}"))?;
        for _ in 0..extra {
            helper.request_token();
        }
        let helper = Mutex::new(Some(helper));
        let rx = Mutex::new(rx);
        let failure: Mutex<Option<String>> = Mutex::new(None);
        let token_worker = || loop {
            // Wait for a token; the channel closes when the helper is stopped.
            let got = rx.lock().expect("lock").recv();
            let acquired = match got {
                Ok(Ok(a)) => a,
                Ok(Err(e)) => {
                    *failure.lock().expect("lock") =
                        Some(format!("cannot take a jobserver token: {e}"));
                    return;
                }
                Err(_) => return,
            };
            let token = self.count_token(acquired);
            let more = take_and_run();
            drop(token); // given back as soon as the function is done
            if !more {
                return;
            }
            if let Some(h) = helper.lock().expect("lock").as_ref() {
                h.request_token();
            }
        };
        let spawn_err = std::thread::scope(|s| {
            let mut handles = vec![];
            for w in 1..=extra {
                let token_worker = &token_worker;
                match std::thread::Builder::new()
                    .name(format!("saturn-job-{w}"))
                    .stack_size(STACK_SIZE)
                    .spawn_scoped(s, token_worker)
                {
                    Ok(h) => handles.push(h),
                    Err(e) => {
                        drop(helper.lock().expect("lock").take());
                        return Some(format!("cannot spawn a worker thread: {e}"));
                    }
                }
            }
            // Worker 0 runs on this thread and on the implicit token.
            while take_and_run() {}
            // Every function is taken: stop asking for tokens. Dropping the
            // helper joins its thread, which drops the channel's sender, so
            // idle workers wake up and leave; tokens still in the channel
            // are given back when it is dropped.
            let h = helper.lock().expect("lock").take();
            drop(h);
            for h in handles {
                if h.join().is_err() {
                    return Some("a worker thread panicked".to_string());
                }
            }
            None
        });
        drop(rx);
        if let Some(e) = spawn_err.or_else(|| failure.into_inner().expect("lock")) {
            return Err(e);
        }
        Ok(results
            .into_iter()
            .map(|m| m.into_inner().expect("lock").expect("every item ran"))
            .collect())
    }

    /// Takes up to `want` tokens without blocking.
    fn try_take<'a>(&'a self, client: &jobserver::Client, want: usize) -> Vec<Token<'a>> {
        let mut got = vec![];
        if self.no_try_acquire.load(Ordering::Relaxed) {
            return got;
        }
        while got.len() < want {
            match client.try_acquire() {
                Ok(Some(a)) => got.push(self.count_token(a)),
                Ok(None) => break,
                Err(e) => {
                    if e.kind() == std::io::ErrorKind::Unsupported {
                        self.no_try_acquire.store(true, Ordering::Relaxed);
                    }
                    break;
                }
            }
        }
        got
    }

    /// A cached pool of `threads` threads (none for one thread).
    fn sized(&self, threads: usize) -> Result<Par, String> {
        if threads <= 1 {
            return Ok(Par::single());
        }
        let mut pools = self.sized_pools.lock().expect("lock");
        if pools.len() <= threads {
            pools.resize(threads + 1, None);
        }
        let pool = match &pools[threads] {
            Some(p) => p.clone(),
            None => {
                let p = build_pool(threads)?;
                pools[threads] = Some(p.clone());
                p
            }
        };
        Ok(Par {
            threads,
            pool: Some(pool),
        })
    }
}

/// The message of a caught panic.
pub fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        format!("internal error (panic): {s}")
    } else if let Some(s) = e.downcast_ref::<String>() {
        format!("internal error (panic): {s}")
    } else {
        "internal error (panic)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square_all(exec: &Exec) -> Vec<usize> {
        exec.map((0..50usize).collect(), &|x, _p| x * x)
            .unwrap()
            .into_iter()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn every_policy_keeps_order() {
        let want: Vec<usize> = (0..50).map(|x| x * x).collect();
        for p in Policy::ALL {
            for t in [1, 2, 3] {
                assert_eq!(square_all(&Exec::new(p, t, None).unwrap()), want);
            }
        }
    }

    #[test]
    fn jobserver_workers_hold_at_most_the_tokens_there_are() {
        // A private jobserver with 1 token besides our implicit one.
        let client = jobserver::Client::new(1).unwrap();
        let want: Vec<usize> = (0..50).map(|x| x * x).collect();
        for p in Policy::ALL {
            let exec = Exec::new(p, 4, Some(client.clone())).unwrap();
            assert!(exec.uses_jobserver());
            assert_eq!(saturn::spin_wait(), std::time::Duration::ZERO);
            assert_eq!(square_all(&exec), want);
            assert!(exec.max_tokens() <= 2, "{}", exec.max_tokens());
        }
        // All tokens were given back.
        let a = client.acquire().unwrap();
        drop(a);
    }

    /// Per-file work keeps its results in order on every executor, and
    /// gives back every jobserver token.
    #[test]
    fn per_file_work_is_in_order_and_gives_its_tokens_back() {
        let want: Vec<usize> = (0..40).map(|x| x * x).collect();
        let square = |x: usize| {
            std::thread::sleep(std::time::Duration::from_millis(1));
            x * x
        };
        for t in [1, 2, 8] {
            let exec = Exec::new(Policy::Function, t, None).unwrap();
            assert_eq!(exec.map_each((0..40).collect(), &square), want);
        }
        // A pipe jobserver's tokens cannot be taken without waiting: the
        // files go on this thread (`tests/cli.rs` runs a fifo jobserver).
        let client = jobserver::Client::new(3).unwrap();
        let exec = Exec::new(Policy::Function, 4, Some(client.clone())).unwrap();
        assert_eq!(exec.map_each((0..40).collect(), &square), want);
        assert!(exec.max_tokens() <= 4, "{}", exec.max_tokens());
        // All 3 tokens were given back.
        let held: Vec<_> = (0..3).map(|_| client.acquire().unwrap()).collect();
        drop(held);
    }

    #[test]
    fn panics_become_errors() {
        for p in Policy::ALL {
            let exec = Exec::new(p, 2, None).unwrap();
            let r = exec
                .map(vec![1, 2, 3], &|x: i32, _p| {
                    if x == 2 {
                        panic!("boom");
                    }
                    x
                })
                .unwrap();
            assert_eq!(r[0], Ok(1));
            assert!(r[1].as_ref().unwrap_err().contains("boom"));
            assert_eq!(r[2], Ok(3));
        }
    }
}
