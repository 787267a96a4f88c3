// Builds a module of CUDA C kernels for the CPU: the source, after runtime.h, compiled by clang++
// into a shared library with one launcher per `extern "C" __global__` kernel (module_abi.h).
#ifndef LCR_EMU_MODULE_COMPILER_H
#define LCR_EMU_MODULE_COMPILER_H

#include <string>

namespace lcr_emu {
/// The path of the built library (from the on-disk cache when this source, runtime and compiler
/// were built before), or "" with the compiler's messages in `log`.
std::string build_module(const std::string &source, const std::string &extra_flags, std::string &log);
/// The folder this library was loaded from (where runtime.h lies).
std::string own_directory();
}

#endif
