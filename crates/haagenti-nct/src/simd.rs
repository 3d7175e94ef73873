//! Run-time choice of x86-64 vector extensions. [`multiversion!`] compiles a function's body
//! three times (as written, with AVX2, with AVX-512) and each call runs the widest build this
//! CPU has: the encoder's Viterbi search is built so. The code is the same portable Rust in
//! every build, and Rust never contracts `a * b + c` into a fused multiply-add or reorders
//! float arithmetic, so every build computes the same bits (tests compare them); the wider
//! vectors only do more at once. Two loops where the compiler's own vectors measured slow are
//! written with AVX2 intrinsics instead, doing the same arithmetic: the search's spreading of
//! each state's best predecessor (`trellis::x86`) and the decoder's window lookups
//! (`decode::x86`). Other targets (wasm32 included), and builds without `std`, compile the
//! portable code only.
//!
//! `HAAGENTI_NCT_SIMD=baseline` or `=avx2` in the environment before the first call caps the
//! choice, to test or measure the narrower builds.
//!
//! Invariant, cited as V1 by the `SAFETY` comment in [`multiversion!`]: a function compiled
//! with `#[target_feature]` is called only when [`level`] says this CPU has those features.
#![allow(unsafe_code)]

/// The widest vectors used, in order.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Baseline,
    Avx2,
    Avx512,
}

/// The level the builds of [`multiversion!`] run at: what this CPU has, capped by
/// `HAAGENTI_NCT_SIMD` (read once), or in tests by [`with_level`].
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline]
pub(crate) fn level() -> Level {
    #[cfg(test)]
    if let Some(forced) = FORCED.with(|f| f.get()) {
        return forced;
    }
    static LEVEL: std::sync::OnceLock<Level> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        let cap = match std::env::var("HAAGENTI_NCT_SIMD").as_deref() {
            Ok("baseline") => Level::Baseline,
            Ok("avx2") => Level::Avx2,
            _ => Level::Avx512,
        };
        detected().min(cap)
    })
}

/// Whether the AVX2 intrinsic paths (`trellis::x86`, `decode::x86`) may run: [`level`] is at
/// least AVX2. Always false off x86-64 or without `std`.
#[inline(always)]
pub(crate) fn avx2() -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    return level() >= Level::Avx2;
    #[cfg(not(all(feature = "std", target_arch = "x86_64")))]
    false
}

/// What this CPU has.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) fn detected() -> Level {
    if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw") {
        Level::Avx512
    } else if std::is_x86_feature_detected!("avx2") {
        Level::Avx2
    } else {
        Level::Baseline
    }
}

#[cfg(all(test, feature = "std", target_arch = "x86_64"))]
std::thread_local! {
    static FORCED: core::cell::Cell<Option<Level>> = const { core::cell::Cell::new(None) };
}

/// Runs `f` with the builds of [`multiversion!`] at `level` on this thread (tests only; the
/// CPU must have it).
#[cfg(all(test, feature = "std", target_arch = "x86_64"))]
pub(crate) fn with_level<R>(level: Level, f: impl FnOnce() -> R) -> R {
    assert!(level <= detected(), "this CPU lacks {level:?}");
    FORCED.with(|c| c.set(Some(level)));
    let r = f();
    FORCED.with(|c| c.set(None));
    r
}

/// Defines `fn $name(args) [-> ret] { body }` whose body is compiled for the baseline, AVX2
/// and AVX-512, the widest this CPU has ([`level`]) running.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        #[allow(unsafe_code)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn portable($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    portable($($arg),*)
                }
                #[target_feature(enable = "avx512f,avx512bw,avx2")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    portable($($arg),*)
                }
                match $crate::simd::level() {
                    // SAFETY: V1 - `level` found AVX-512 (F and BW) on this CPU.
                    $crate::simd::Level::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: V1 - `level` found AVX2 on this CPU.
                    $crate::simd::Level::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Level::Baseline => {}
                }
            }
            portable($($arg),*)
        }
    };
}
pub(crate) use multiversion;
