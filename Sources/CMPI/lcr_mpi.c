#include "lcr_mpi.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Open MPI's handle types are pointers; declared opaque here. */
typedef void *Handle;

/* MPI_THREAD_SERIALIZED in Open MPI's and MPICH's enumerations alike. */
enum { THREAD_SERIALIZED = 2 };
#define IN_PLACE ((void *)1)

static struct {
    void *library;
    Handle comm_world, type_float, type_double, type_byte, type_int64, op_sum, op_max, errors_return;
    int (*init_thread)(int *, char ***, int, int *);
    int (*initialized)(int *);
    int (*finalize)(void);
    int (*abort)(Handle, int);
    int (*comm_rank)(Handle, int *);
    int (*comm_size)(Handle, int *);
    int (*comm_set_errhandler)(Handle, Handle);
    int (*barrier)(Handle);
    int (*allreduce)(const void *, void *, int, Handle, Handle, Handle);
    int (*bcast)(void *, int, Handle, int, Handle);
    int (*allgather)(const void *, int, Handle, void *, int, Handle, Handle);
    int (*allgatherv)(const void *, int, Handle, void *, const int *, const int *, Handle, Handle);
    int (*error_string)(int, char *, int *);
} mpi;

static int resolve(const char *name, void **target, char *message, size_t capacity) {
    *target = dlsym(mpi.library, name);
    if (*target == NULL) {
        snprintf(message, capacity, "libmpi lacks %s (only Open MPI's ABI is supported)", name);
        return -1;
    }
    return 0;
}

int lcr_mpi_load(const char *path, char *message, size_t capacity) {
    if (mpi.library != NULL) return 0;
    /* RTLD_GLOBAL: Open MPI's own plugins (dlopened by libmpi) resolve libmpi's symbols. */
    const char *candidates[] = {"libmpi.so.40", "libmpi.so", NULL};
    void *library = NULL;
    const char *reason = "";
    if (path != NULL && path[0] != 0) {
        library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (library == NULL) reason = dlerror();
    } else {
        for (int i = 0; candidates[i] != NULL && library == NULL; i++) {
            library = dlopen(candidates[i], RTLD_NOW | RTLD_GLOBAL);
            if (library == NULL) reason = dlerror();
        }
    }
    if (library == NULL) {
        snprintf(message, capacity, "cannot load libmpi (%s)", reason ? reason : "not found");
        return -1;
    }
    mpi.library = library;
    struct { const char *name; void **target; } symbols[] = {
        {"ompi_mpi_comm_world", &mpi.comm_world}, {"ompi_mpi_float", &mpi.type_float},
        {"ompi_mpi_double", &mpi.type_double}, {"ompi_mpi_byte", &mpi.type_byte},
        {"ompi_mpi_long_long_int", &mpi.type_int64}, {"ompi_mpi_op_sum", &mpi.op_sum},
        {"ompi_mpi_op_max", &mpi.op_max}, {"ompi_mpi_errors_return", &mpi.errors_return},
        {"MPI_Init_thread", (void **)&mpi.init_thread}, {"MPI_Initialized", (void **)&mpi.initialized},
        {"MPI_Finalize", (void **)&mpi.finalize}, {"MPI_Abort", (void **)&mpi.abort},
        {"MPI_Comm_rank", (void **)&mpi.comm_rank}, {"MPI_Comm_size", (void **)&mpi.comm_size},
        {"MPI_Comm_set_errhandler", (void **)&mpi.comm_set_errhandler}, {"MPI_Barrier", (void **)&mpi.barrier},
        {"MPI_Allreduce", (void **)&mpi.allreduce}, {"MPI_Bcast", (void **)&mpi.bcast},
        {"MPI_Allgather", (void **)&mpi.allgather}, {"MPI_Allgatherv", (void **)&mpi.allgatherv},
        {"MPI_Error_string", (void **)&mpi.error_string},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        if (resolve(symbols[i].name, symbols[i].target, message, capacity) != 0) {
            dlclose(library);
            memset(&mpi, 0, sizeof mpi);
            return -1;
        }
    }
    return 0;
}

#define REQUIRE_LOADED() do { if (mpi.library == NULL) return -1; } while (0)

int lcr_mpi_initialize(int *provided) {
    REQUIRE_LOADED();
    int done = 0;
    int code = mpi.initialized(&done);
    if (code != 0) return code;
    if (!done) {
        code = mpi.init_thread(NULL, NULL, THREAD_SERIALIZED, provided);
        if (code != 0) return code;
    }
    return mpi.comm_set_errhandler(mpi.comm_world, mpi.errors_return);
}

int lcr_mpi_rank(int *rank) { REQUIRE_LOADED(); return mpi.comm_rank(mpi.comm_world, rank); }
int lcr_mpi_size(int *size) { REQUIRE_LOADED(); return mpi.comm_size(mpi.comm_world, size); }
int lcr_mpi_finalize(void) { REQUIRE_LOADED(); return mpi.finalize(); }
int lcr_mpi_abort(int code) { REQUIRE_LOADED(); return mpi.abort(mpi.comm_world, code); }
int lcr_mpi_barrier(void) { REQUIRE_LOADED(); return mpi.barrier(mpi.comm_world); }

int lcr_mpi_allreduce_sum_float(float *values, int count) {
    REQUIRE_LOADED();
    return mpi.allreduce(IN_PLACE, values, count, mpi.type_float, mpi.op_sum, mpi.comm_world);
}

int lcr_mpi_allreduce_sum_double(double *values, int count) {
    REQUIRE_LOADED();
    return mpi.allreduce(IN_PLACE, values, count, mpi.type_double, mpi.op_sum, mpi.comm_world);
}

int lcr_mpi_allreduce_max_double(double *values, int count) {
    REQUIRE_LOADED();
    return mpi.allreduce(IN_PLACE, values, count, mpi.type_double, mpi.op_max, mpi.comm_world);
}

int lcr_mpi_broadcast_bytes(void *bytes, int count, int root) {
    REQUIRE_LOADED();
    return mpi.bcast(bytes, count, mpi.type_byte, root, mpi.comm_world);
}

int lcr_mpi_allgather_int64(int64_t value, int64_t *all) {
    REQUIRE_LOADED();
    return mpi.allgather(&value, 1, mpi.type_int64, all, 1, mpi.type_int64, mpi.comm_world);
}

int lcr_mpi_allgatherv_bytes(const void *bytes, int count, void *received, const int *counts,
                             const int *displacements) {
    REQUIRE_LOADED();
    return mpi.allgatherv(bytes, count, mpi.type_byte, received, counts, displacements, mpi.type_byte,
                          mpi.comm_world);
}

void lcr_mpi_error_string(int code, char *buffer, size_t capacity) {
    if (capacity == 0) return;
    buffer[0] = 0;
    if (mpi.library == NULL || code < 0) {
        snprintf(buffer, capacity, "MPI is not loaded (code %d)", code);
        return;
    }
    /* MPI_MAX_ERROR_STRING is 256 in Open MPI. */
    char text[512];
    int length = 0;
    if (mpi.error_string(code, text, &length) != 0) {
        snprintf(buffer, capacity, "MPI error %d", code);
        return;
    }
    text[length < (int)sizeof text ? length : (int)sizeof text - 1] = 0;
    snprintf(buffer, capacity, "%s (MPI error %d)", text, code);
}

static char stop_message[1024];
static size_t stop_length;

static void stop(int signal_number) {
    ssize_t ignored = write(STDERR_FILENO, stop_message, stop_length);
    (void)ignored;
    _exit(128 + signal_number);
}

void lcr_install_stop_message(const char *message) {
    size_t length = strlen(message);
    if (length >= sizeof stop_message) length = sizeof stop_message - 1;
    memcpy(stop_message, message, length);
    stop_message[length] = 0;
    stop_length = length;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
}
