// libnvrtc.so.13 of the software CUDA device: "compiles" CUDA C for the emulator's driver, which
// runs kernels on the CPU. The "cubin" it returns is a host shared library (an ELF file) that
// the emulator's cuModuleLoadData loads; a compile error is clang's, in the program log.
//
// For a process that uses the emulator alone (the CLI with LISTCONRANKER_CUDA_PATH at the
// emulator's folder). Where NVIDIA's NVRTC is loaded instead (the test process, which checks
// that every kernel compiles for the GPU), the driver builds the registered sources itself.
//
// Its version is 0.N, N from the runtime's hash, so that cubin caches keyed by the NVRTC version
// never mix the emulator's libraries with NVIDIA's cubins, or with an older runtime's.
#include "module_compiler.h"

#include <string.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

typedef int nvrtcResult;
enum : nvrtcResult {
    NVRTC_SUCCESS = 0,
    NVRTC_ERROR_OUT_OF_MEMORY = 1,
    NVRTC_ERROR_INVALID_INPUT = 3,
    NVRTC_ERROR_INVALID_PROGRAM = 4,
    NVRTC_ERROR_INVALID_OPTION = 5,
    NVRTC_ERROR_COMPILATION = 6,
};

namespace {
struct Program {
    std::string source, name, log, image;
};

std::string quoted(const std::string &text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}
}  // namespace

extern "C" {

#define EXPORT __attribute__((visibility("default")))

EXPORT const char *nvrtcGetErrorString(nvrtcResult result) {
    switch (result) {
    case NVRTC_SUCCESS: return "NVRTC_SUCCESS";
    case NVRTC_ERROR_OUT_OF_MEMORY: return "NVRTC_ERROR_OUT_OF_MEMORY";
    case NVRTC_ERROR_INVALID_INPUT: return "NVRTC_ERROR_INVALID_INPUT";
    case NVRTC_ERROR_INVALID_PROGRAM: return "NVRTC_ERROR_INVALID_PROGRAM";
    case NVRTC_ERROR_INVALID_OPTION: return "NVRTC_ERROR_INVALID_OPTION";
    case NVRTC_ERROR_COMPILATION: return "NVRTC_ERROR_COMPILATION";
    default: return "NVRTC_ERROR unknown";
    }
}

EXPORT nvrtcResult nvrtcVersion(int *major, int *minor) {
    if (!major || !minor) return NVRTC_ERROR_INVALID_INPUT;
    std::ifstream in(lcr_emu::own_directory() + "/runtime.h", std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    uint32_t hash = 2166136261u;
    for (unsigned char c : text.str()) hash = (hash ^ c) * 16777619u;
    *major = 0;
    *minor = int(hash & 0x7fffffff);
    return NVRTC_SUCCESS;
}

EXPORT nvrtcResult nvrtcCreateProgram(Program **program, const char *source, const char *name, int header_count,
                                      const char *const *, const char *const *) {
    if (!program || !source) return NVRTC_ERROR_INVALID_INPUT;
    if (header_count != 0) return NVRTC_ERROR_INVALID_INPUT;   // not emulated
    *program = new Program{source, name ? name : "default_program", "", ""};
    return NVRTC_SUCCESS;
}

EXPORT nvrtcResult nvrtcCompileProgram(Program *program, int option_count, const char *const *options) {
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    // Macros carry over; the architecture, language standard and the like mean nothing on a CPU.
    std::string flags;
    for (int i = 0; i < option_count; i++) {
        std::string option = options[i] ? options[i] : "";
        if (option.rfind("-D", 0) == 0 || option.rfind("-U", 0) == 0) flags += " " + quoted(option);
    }
    std::string log;
    std::string path = lcr_emu::build_module(program->source, flags, log);
    if (path.empty()) {
        program->log = log;
        return NVRTC_ERROR_COMPILATION;
    }
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    program->image = bytes.str();
    program->log.clear();
    return program->image.empty() ? NVRTC_ERROR_COMPILATION : NVRTC_SUCCESS;
}

EXPORT nvrtcResult nvrtcGetProgramLogSize(Program *program, size_t *size) {
    if (!program || !size) return NVRTC_ERROR_INVALID_INPUT;
    *size = program->log.size() + 1;
    return NVRTC_SUCCESS;
}

EXPORT nvrtcResult nvrtcGetProgramLog(Program *program, char *log) {
    if (!program || !log) return NVRTC_ERROR_INVALID_INPUT;
    memcpy(log, program->log.c_str(), program->log.size() + 1);
    return NVRTC_SUCCESS;
}

EXPORT nvrtcResult nvrtcGetCUBINSize(Program *program, size_t *size) {
    if (!program || !size) return NVRTC_ERROR_INVALID_INPUT;
    *size = program->image.size();
    return NVRTC_SUCCESS;
}

EXPORT nvrtcResult nvrtcGetCUBIN(Program *program, char *cubin) {
    if (!program || !cubin) return NVRTC_ERROR_INVALID_INPUT;
    memcpy(cubin, program->image.data(), program->image.size());
    return NVRTC_SUCCESS;
}

EXPORT nvrtcResult nvrtcDestroyProgram(Program **program) {
    if (!program) return NVRTC_ERROR_INVALID_PROGRAM;
    delete *program;
    *program = nullptr;
    return NVRTC_SUCCESS;
}

}  // extern "C"
