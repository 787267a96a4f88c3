// dlopen of the CUDA libraries from the directories Swift found, then the loader's own paths.
#include "CCUDA.h"
#include "loader.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static void *handles[3];
static char paths[3][1024];

void lcr_cuda_message(char *err, size_t err_len, const char *format, const char *a, const char *b) {
    if (err && err_len) snprintf(err, err_len, format, a ? a : "", b ? b : "");
}

static void append(char *buffer, size_t size, const char *text) {
    size_t used = strlen(buffer);
    if (used + 1 < size) snprintf(buffer + used, size - used, "%s", text);
}

// Tries each directory of `dirs` in order with each soname; an empty directory ("") stands for the
// dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache), tried with the bare sonames.
static void *open_library(int which, const char *const *sonames, int soname_count, const char *const *dirs,
                          int dir_count, char *err, size_t err_len) {
    pthread_mutex_lock(&load_lock);
    if (handles[which]) {
        pthread_mutex_unlock(&load_lock);
        return handles[which];
    }
    char tried[2048] = "";
    const char *last_error = "";
    char path[1024];
    for (int d = 0; d < dir_count && !handles[which]; d++) {
        for (int s = 0; s < soname_count && !handles[which]; s++) {
            if (dirs[d][0]) snprintf(path, sizeof path, "%s/%s", dirs[d], sonames[s]);
            else snprintf(path, sizeof path, "%s", sonames[s]);
            void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (handle) {
                handles[which] = handle;
                snprintf(paths[which], sizeof paths[which], "%s", path);
            } else {
                const char *e = dlerror();
                if (e) last_error = e;
            }
        }
        append(tried, sizeof tried, tried[0] ? ", " : "");
        append(tried, sizeof tried, dirs[d][0] ? dirs[d] : "the dynamic loader's paths");
    }
    void *result = handles[which];
    pthread_mutex_unlock(&load_lock);
    if (!result && err && err_len) {
        char names[256] = "";
        for (int s = 0; s < soname_count; s++) {
            append(names, sizeof names, s ? " or " : "");
            append(names, sizeof names, sonames[s]);
        }
        snprintf(err, err_len, "%s not found (looked in: %s; last error: %s)", names, tried[0] ? tried : "nowhere",
                 last_error);
    }
    return result;
}

void *lcr_cuda_symbol(int which, const char *name) {
    return handles[which] ? dlsym(handles[which], name) : NULL;
}

int lcr_cuda_resolve(int which, const char *const *names, void **slots, int count, char *err, size_t err_len) {
    for (int i = 0; i < count; i++) {
        slots[i] = lcr_cuda_symbol(which, names[i]);
        if (!slots[i]) {
            lcr_cuda_message(err, err_len, "%s has no %s (too old a version?)", paths[which], names[i]);
            return 1;
        }
    }
    return 0;
}

int lcr_cuda_load_driver(const char *const *dirs, int dir_count, char *err, size_t err_len) {
    static const char *const sonames[] = {"libcuda.so.1"};
    if (!open_library(LCR_LIB_DRIVER, sonames, 1, dirs, dir_count, err, err_len)) return 1;
    return lcr_cuda_resolve_driver(err, err_len);
}

int lcr_cuda_load_cublaslt(const char *const *dirs, int dir_count, char *err, size_t err_len) {
    static const char *const sonames[] = {"libcublasLt.so.13", "libcublasLt.so.12"};
    if (!open_library(LCR_LIB_CUBLASLT, sonames, 2, dirs, dir_count, err, err_len)) return 1;
    return lcr_cuda_resolve_cublaslt(err, err_len);
}

int lcr_cuda_load_nvrtc(const char *const *dirs, int dir_count, char *err, size_t err_len) {
    static const char *const sonames[] = {"libnvrtc.so.13", "libnvrtc.so.12"};
    if (!open_library(LCR_LIB_NVRTC, sonames, 2, dirs, dir_count, err, err_len)) return 1;
    return lcr_cuda_resolve_nvrtc(err, err_len);
}

const char *lcr_cuda_loaded_path(int which) {
    return which >= 0 && which < 3 && handles[which] ? paths[which] : "";
}
