//! Run-time selection of x86-64 instruction-set extensions for the hot loops, as the reference
//! decoder does with its `DYNAMIC_BMI2` builds: the loop is compiled twice, once for the
//! baseline and once with BMI1, BMI2 and LZCNT (flag-free variable shifts `shlx`/`shrx`, which
//! spare the `cl` register, and `tzcnt`), and the second copy runs on CPUs that have them.
//! Other targets (wasm32 included) compile the baseline only. With the `std` feature, setting
//! the environment variable `HAAGENTI_ZSTD_PORTABLE` (to anything) before the first decode
//! keeps the baseline code on every CPU, to test or measure it.
//!
//! Invariant, cited as C1 by the `SAFETY` comment in [`multiversion!`]: a function compiled with
//! `#[target_feature(enable = "bmi1,bmi2,lzcnt")]` is called only after [`has_bmi2`] returned
//! true on this CPU.
#![allow(unsafe_code)]

/// Whether this CPU has BMI1, BMI2 and LZCNT. Detected once, then cached.
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_bmi2() -> bool {
    use core::sync::atomic::{AtomicU8, Ordering};
    /// 0: not detected yet, 1: no, 2: yes.
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = detect();
            STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unused_unsafe)] // `__cpuid` is an unsafe fn on some toolchains and safe on newer ones.
fn detect() -> bool {
    #[cfg(feature = "std")]
    if std::env::var_os("HAAGENTI_ZSTD_PORTABLE").is_some() {
        return false;
    }
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: every x86-64 CPU has the `cpuid` instruction; the leaves read are checked against
    // the highest leaf it reports.
    unsafe {
        if __cpuid(0).eax < 7 || __cpuid(0x8000_0000).eax < 0x8000_0001 {
            return false;
        }
        let leaf7 = __cpuid_count(7, 0).ebx;
        let bmi1 = leaf7 & (1 << 3) != 0;
        let bmi2 = leaf7 & (1 << 8) != 0;
        let lzcnt = __cpuid(0x8000_0001).ecx & (1 << 5) != 0;
        bmi1 && bmi2 && lzcnt
    }
}

/// Defines `fn $name(args) -> ret { body }` whose body is compiled twice: as written, and
/// with BMI1/BMI2/LZCNT enabled, the second copy called when the CPU has them.
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        #[allow(unsafe_code)]
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn portable($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "bmi1,bmi2,lzcnt")]
                fn with_bmi2($($arg: $ty),*) -> $ret {
                    portable($($arg),*)
                }
                if $crate::cpu::has_bmi2() {
                    // SAFETY: C1 - the CPU has BMI1, BMI2 and LZCNT.
                    return unsafe { with_bmi2($($arg),*) };
                }
            }
            portable($($arg),*)
        }
    };
}
pub(crate) use multiversion;

#[cfg(all(test, target_arch = "x86_64", feature = "std"))]
mod tests {
    #[test]
    fn detection_agrees_with_std() {
        if std::env::var_os("HAAGENTI_ZSTD_PORTABLE").is_some() {
            assert!(!super::has_bmi2(), "HAAGENTI_ZSTD_PORTABLE keeps the baseline");
            return;
        }
        let std_says = std::is_x86_feature_detected!("bmi1")
            && std::is_x86_feature_detected!("bmi2")
            && std::is_x86_feature_detected!("lzcnt");
        assert_eq!(super::has_bmi2(), std_says);
        assert_eq!(super::has_bmi2(), std_says, "cached answer");
    }
}
