// See module_compiler.h. The cache key covers everything the library depends on: the source, the
// runtime it is compiled with, the compiler and its flags.
#include "module_compiler.h"
#include "module_abi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#ifndef LCR_EMU_CXX
#define LCR_EMU_CXX "clang++"
#endif

namespace lcr_emu {

std::string own_directory() {
    Dl_info info;
    if (!dladdr(reinterpret_cast<void *>(&own_directory), &info) || !info.dli_fname) return ".";
    std::string path = info.dli_fname;
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? "." : path.substr(0, slash);
}

static std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

static bool write_file(const std::string &path, const std::string &text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    return bool(out);
}

static uint64_t fnv1a(const std::string &text, uint64_t hash = 0xcbf29ce484222325ull) {
    for (unsigned char c : text) hash = (hash ^ c) * 0x100000001b3ull;
    return hash;
}

static std::string quoted(const std::string &text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs a shell command; its output (stdout and stderr) goes to `output`.
static int run(const std::string &command, std::string &output) {
    FILE *pipe = popen((command + " 2>&1").c_str(), "r");
    if (!pipe) return -1;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    return pclose(pipe);
}

static std::string cache_directory() {
    if (const char *explicit_dir = getenv("LISTCONRANKER_CUDA_EMULATOR_CACHE"); explicit_dir && *explicit_dir)
        return explicit_dir;
    if (const char *xdg = getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/listconranker/cuda-emulator";
    if (const char *home = getenv("HOME"); home && *home) return std::string(home) + "/.cache/listconranker/cuda-emulator";
    return "/tmp/listconranker-cuda-emulator";
}

static void make_directories(const std::string &path) {
    for (size_t i = 1; i <= path.size(); i++)
        if (i == path.size() || path[i] == '/') mkdir(path.substr(0, i).c_str(), 0755);
}

// `extern __shared__ T name[];` (dynamic shared memory, which C++ has no word for) becomes a
// pointer to the block's dynamic shared memory.
static std::string rewrite_dynamic_shared(const std::string &source) {
    static const std::regex declaration(
        R"(extern\s+__shared__\s+(?:__align__\s*\(\s*\d+\s*\)\s*)?([A-Za-z_][\w\s]*?)\s+(\w+)\s*\[\s*\]\s*;)");
    return std::regex_replace(source, declaration, "$1 *const $2 = static_cast<$1 *>(lcr_emu::dynamic_shared());");
}

// The names of `extern "C"` kernels in the preprocessed source (where __global__ reads __lcr_global__).
static std::vector<std::string> kernel_names(const std::string &preprocessed) {
    static const std::regex kernel(R"(extern\s+"C"\s+__lcr_global__\s+void\s+(\w+)\s*\()");
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (std::sregex_iterator it(preprocessed.begin(), preprocessed.end(), kernel), end; it != end; ++it)
        if (seen.insert((*it)[1]).second) names.push_back((*it)[1]);
    return names;
}

std::string build_module(const std::string &source, const std::string &extra_flags, std::string &log) {
    std::string dir = own_directory();
    std::string runtime = read_file(dir + "/runtime.h") + read_file(dir + "/module_abi.h");
    if (runtime.empty()) {
        log = "the software CUDA device has no runtime.h beside its libraries in " + dir;
        return "";
    }
    const char *cxx_override = getenv("LISTCONRANKER_CUDA_EMULATOR_CXX");
    std::string cxx = cxx_override && *cxx_override ? cxx_override : LCR_EMU_CXX;
    std::string flags = "-std=c++20 -O1 -fPIC -shared -w -fno-exceptions " + extra_flags;
    uint64_t key = fnv1a(flags, fnv1a(cxx, fnv1a(runtime, fnv1a(source))));
    char name[64];
    snprintf(name, sizeof name, "module-%016llx.so", (unsigned long long)key);
    std::string cache = cache_directory();
    std::string library = cache + "/" + name;
    if (access(library.c_str(), R_OK) == 0) return library;

    make_directories(cache);
    std::string work = cache + "/build-XXXXXX";
    std::vector<char> work_buffer(work.begin(), work.end());
    work_buffer.push_back(0);
    if (!mkdtemp(work_buffer.data())) {
        log = "cannot make a build folder under " + cache;
        return "";
    }
    work = work_buffer.data();
    std::string kernels = work + "/kernels.cu";
    write_file(kernels, "#line 1 \"kernels.cu\"\n" + rewrite_dynamic_shared(source));
    std::string scanned;
    int status = run(quoted(cxx) + " -E -P -x c++ -std=c++20 -DLCR_EMU_SCAN " + extra_flags + " -include " +
                         quoted(dir + "/runtime.h") + " " + quoted(kernels),
                     scanned);
    std::string ignored;
    if (status != 0) {
        log = scanned;
        run("rm -rf " + quoted(work), ignored);
        return "";
    }
    std::string unit = "#include \"runtime.h\"\n#include \"kernels.cu\"\n";
    for (const std::string &kernel : kernel_names(scanned))
        unit += "extern \"C\" __attribute__((visibility(\"default\"))) int " LCR_EMU_LAUNCHER_PREFIX + kernel +
                "(lcr_emu_launch *l) { return lcr_emu::launch(&" + kernel + ", l); }\n";
    write_file(work + "/module.cpp", unit);
    std::string output;
    status = run(quoted(cxx) + " " + flags + " -I" + quoted(dir) + " -I" + quoted(work) + " " +
                     quoted(work + "/module.cpp") + " -o " + quoted(work + "/module.so"),
                 output);
    if (status != 0) {
        log = output;
        run("rm -rf " + quoted(work), ignored);
        return "";
    }
    // Renamed into place: a concurrent process never loads half a library.
    bool renamed = rename((work + "/module.so").c_str(), library.c_str()) == 0;
    run("rm -rf " + quoted(work), ignored);
    if (!renamed) log = "cannot write " + library;
    return renamed ? library : "";
}

}  // namespace lcr_emu
