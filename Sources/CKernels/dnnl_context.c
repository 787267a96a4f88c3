#include "dnnl_context.h"
#include <pthread.h>
#include <stdio.h>

static dnnl_engine_t engine = NULL;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;
static dnnl_status_t engine_status = dnnl_success;
// Streams are not meant to be shared between threads: each thread gets its own.
static _Thread_local dnnl_stream_t thread_stream = NULL;

static void create_engine(void) { engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0); }

const char *lcr_dnnl_status_text(dnnl_status_t s) {
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented (no kernel for these shapes/types on this CPU)";
    case dnnl_runtime_error: return "runtime error";
    default: return "unknown status";
    }
}

int lcr_dnnl_context(dnnl_engine_t *out_engine, dnnl_stream_t *out_stream, char *err, size_t err_len) {
    pthread_once(&engine_once, create_engine);
    LCR_CHECK(engine_status, "engine creation");
    if (!thread_stream) {
        LCR_CHECK(dnnl_stream_create(&thread_stream, engine, dnnl_stream_default_flags), "stream creation");
    }
    *out_engine = engine;
    *out_stream = thread_stream;
    return 0;
fail:
    return 1;
}
