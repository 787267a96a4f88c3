// Turns a memory fault inside emulated device code (a kernel, a cuBLASLt product) into an error
// code, as a GPU reports an illegal address, instead of killing the process. Device allocations
// end against a page that cannot be touched (driver.cpp), so reading or writing past one faults.
#ifndef LCR_EMU_FAULT_GUARD_H
#define LCR_EMU_FAULT_GUARD_H

#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include <mutex>

namespace lcr_emu {

inline thread_local sigjmp_buf *fault_jump = nullptr;
inline thread_local void *fault_address = nullptr;
inline struct sigaction previous_segv, previous_bus;

inline void on_fault(int signal, siginfo_t *info, void *) {
    if (fault_jump) {
        fault_address = info ? info->si_addr : nullptr;
        siglongjmp(*fault_jump, 1);
    }
    // Not a guarded call: the handler there was before ours takes the fault as it would have.
    sigaction(signal, signal == SIGBUS ? &previous_bus : &previous_segv, nullptr);
}

// Installed once, for good (installing and restoring around each call would race between threads).
inline void install_fault_handler() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_fault;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        sigaction(SIGSEGV, &action, &previous_segv);
        sigaction(SIGBUS, &action, &previous_bus);
    });
}

// Runs `body`; returns true when it faulted (the address in `fault_address`).
template <typename Body> inline bool faulted(Body body) {
    install_fault_handler();
    sigjmp_buf jump;
    if (sigsetjmp(jump, 1) != 0) {
        fault_jump = nullptr;
        return true;
    }
    fault_jump = &jump;
    body();
    fault_jump = nullptr;
    return false;
}

}  // namespace lcr_emu

#endif
