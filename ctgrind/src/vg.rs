//! Valgrind client requests: the few this harness needs, issued with Valgrind's amd64
//! "magic sequence" (from `valgrind/valgrind.h`, `VALGRIND_DO_CLIENT_REQUEST_EXPR`).
//!
//! The sequence rotates `rdi` by 3, 13, 61 and 51 bits (128 in all: `rdi` is unchanged)
//! and then executes `xchg rbx, rbx`. On a real CPU that is a no-op that leaves the
//! default value in `rdx`; under Valgrind the JIT recognises it and performs the request
//! whose code and five arguments are in the array `rax` points to, writing the result
//! to `rdx`. So the harness runs natively too (every request answers its default).
//!
//! This shim replaces `valgrind/memcheck.h`: no C compiler, no Valgrind headers and no
//! extra crate are needed to build the harness, and the request codes below can be
//! checked against `memcheck.h` and `valgrind.h` line by line.

/// `VG_USERREQ__RUNNING_ON_VALGRIND` (valgrind.h).
const RUNNING_ON_VALGRIND: usize = 0x1001;
/// `VG_USERREQ__COUNT_ERRORS` (valgrind.h): errors reported so far (suppressed ones excluded).
const COUNT_ERRORS: usize = 0x1201;
/// `VG_USERREQ_TOOL_BASE('M','C')` (memcheck.h).
const MC_BASE: usize = ((b'M' as usize) << 24) | ((b'C' as usize) << 16);
/// `VG_USERREQ__MAKE_MEM_UNDEFINED`.
const MAKE_MEM_UNDEFINED: usize = MC_BASE + 1;
/// `VG_USERREQ__MAKE_MEM_DEFINED`.
const MAKE_MEM_DEFINED: usize = MC_BASE + 2;
/// `VG_USERREQ__GET_VBITS`.
const GET_VBITS: usize = MC_BASE + 8;

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn request(default: usize, code: usize, a1: usize, a2: usize, a3: usize) -> usize {
    let args: [usize; 6] = [code, a1, a2, a3, 0, 0];
    let result: usize;
    // SAFETY: on a CPU the sequence only rotates `rdi` by 128 bits in all (unchanged) and
    // swaps `rbx` with itself; flags are clobbered, which `asm!` assumes by default. Under
    // Valgrind it reads `args` (kept alive across the block) and may change Valgrind's
    // shadow state of the memory the arguments name, never the bytes themselves; the
    // block is not `nomem`, so the compiler neither caches values across it nor moves
    // memory accesses over it.
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") default => result,
            in("rax") args.as_ptr(),
            options(nostack),
        );
    }
    result
}

#[cfg(not(target_arch = "x86_64"))]
fn request(default: usize, _code: usize, _a1: usize, _a2: usize, _a3: usize) -> usize {
    default
}

/// True when the program runs under Valgrind (any tool).
pub fn running_on_valgrind() -> bool {
    request(0, RUNNING_ON_VALGRIND, 0, 0, 0) != 0
}

/// The number of errors the tool has reported so far; suppressed errors are not counted.
pub fn count_errors() -> usize {
    request(0, COUNT_ERRORS, 0, 0, 0)
}

/// Marks `bytes` as undefined (secret) for memcheck: every branch or address that
/// depends on them is reported from now on. Their values are unchanged.
pub fn mark_secret(bytes: &[u8]) {
    request(
        0,
        MAKE_MEM_UNDEFINED,
        bytes.as_ptr() as usize,
        bytes.len(),
        0,
    );
}

/// Marks the bytes of `value` as defined (public): a declassification point.
pub fn declassify<T>(value: &mut T) {
    let len = core::mem::size_of::<T>();
    request(
        0,
        MAKE_MEM_DEFINED,
        core::ptr::from_mut(value) as usize,
        len,
        0,
    );
}

/// How many bits of `bytes` memcheck holds undefined, or `None` when not under memcheck.
///
/// Reading the shadow bits is not a use of the value, so this reports nothing.
pub fn undefined_bits(bytes: &[u8]) -> Option<u32> {
    let mut vbits = vec![0u8; bytes.len()];
    let status = request(
        0,
        GET_VBITS,
        bytes.as_ptr() as usize,
        vbits.as_mut_ptr() as usize,
        bytes.len(),
    );
    // 1: success; 0: not under memcheck; 2 or 3: an address was not addressable.
    (status == 1).then(|| vbits.iter().map(|v| v.count_ones()).sum())
}
