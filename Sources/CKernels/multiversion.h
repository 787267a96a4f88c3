// Hot loops compiled three times (x86-64-v4 with AVX-512, x86-64-v3 with AVX2, baseline x86-64)
// and picked at load time by the CPU they run on (clang's target_clones), so the package needs no
// -march flag.
//
// Not under ThreadSanitizer: the choice is made by an ifunc resolver that the dynamic loader
// calls while relocating the binary, before TSan's runtime is up, and TSan instruments the
// resolver's entry, so the test binary crashed at load. A sanitizer build runs the baseline loop.
#ifndef LCR_MULTIVERSION_H
#define LCR_MULTIVERSION_H

#if defined(__has_feature)
#  if __has_feature(thread_sanitizer)
#    define LCR_UNDER_THREAD_SANITIZER 1
#  endif
#endif

#if defined(__x86_64__) && defined(__clang__) && !defined(LCR_UNDER_THREAD_SANITIZER)
#define LCR_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LCR_MULTIVERSION
#endif

#endif
