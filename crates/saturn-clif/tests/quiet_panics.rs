//! The panic hook under `text::with_quiet_panics`: silent for panics inside
//! `catch_quietly` (on any thread), passed on for every other panic, and
//! put back afterwards, also when the closure panics. A test binary of its
//! own: the hook is global to the process, and other tests panic.

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};

use saturn_clif::text::{catch_quietly, read_guarded, with_quiet_panics};

/// Panics that reached the test's own hook.
static SEEN: AtomicUsize = AtomicUsize::new(0);

fn seen() -> usize {
    SEEN.load(Ordering::SeqCst)
}

#[test]
fn quiet_panics_are_silent_others_are_not_and_the_hook_comes_back() {
    std::panic::set_hook(Box::new(|_| {
        SEEN.fetch_add(1, Ordering::SeqCst);
    }));
    assert!(catch_unwind(|| panic!("before")).is_err());
    assert_eq!(seen(), 1);
    // Quiet on two threads at once, loud on a third.
    let (quiet, loud) = with_quiet_panics(|| {
        std::thread::scope(|s| {
            let a = s.spawn(|| catch_quietly(|| -> u32 { panic!("a") }).is_err());
            let b = s.spawn(|| catch_quietly(|| -> u32 { panic!("b") }).is_err());
            let c = s.spawn(|| catch_unwind(|| -> u32 { panic!("c") }).is_err());
            (a.join().unwrap() && b.join().unwrap(), c.join().unwrap())
        })
    });
    assert!(quiet && loud);
    assert_eq!(seen(), 2, "only the panic outside catch_quietly is seen");
    // The hook is back.
    assert!(catch_unwind(|| panic!("after")).is_err());
    assert_eq!(seen(), 3);
    // Also after a panic out of the closure (which the hook sees: it is
    // not inside catch_quietly).
    assert!(catch_unwind(|| with_quiet_panics(|| panic!("out"))).is_err());
    assert_eq!(seen(), 4);
    assert!(catch_unwind(|| panic!("after that")).is_err());
    assert_eq!(seen(), 5);
    // Many guarded reads leave the hook as it was, and quiet.
    for _ in 0..1000 {
        assert!(read_guarded(|| -> u32 { panic!("read") }).is_err());
    }
    assert_eq!(seen(), 5);
    assert!(catch_unwind(|| panic!("last")).is_err());
    assert_eq!(seen(), 6);
}
