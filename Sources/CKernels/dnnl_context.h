// The oneDNN engine (one per process) and execution stream (one per thread) the kernels share.
#ifndef LISTCONRANKER_DNNL_CONTEXT_H
#define LISTCONRANKER_DNNL_CONTEXT_H
#include <oneapi/dnnl/dnnl.h>
#include <stddef.h>

/// The CPU engine and this thread's stream; 0 on success, else a message in `err`.
int lcr_dnnl_context(dnnl_engine_t *engine, dnnl_stream_t *stream, char *err, size_t err_len);
/// A short description of a oneDNN status.
const char *lcr_dnnl_status_text(dnnl_status_t status);

#define LCR_CHECK(call, what)                                                                         \
    do {                                                                                              \
        dnnl_status_t _s = (call);                                                                    \
        if (_s != dnnl_success) {                                                                     \
            if (err) snprintf(err, err_len, "oneDNN %s failed: %s", what, lcr_dnnl_status_text(_s)); \
            goto fail;                                                                                \
        }                                                                                             \
    } while (0)
#endif
