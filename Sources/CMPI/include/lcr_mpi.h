#ifndef LCR_MPI_H
#define LCR_MPI_H

/*
 * The few MPI calls data-parallel training, indexing and evaluation need, reached through
 * libmpi loaded at run time (dlopen), so the package builds and runs where Open MPI is not
 * installed. Nothing here includes <mpi.h>: the functions are declared with the handle types
 * as plain pointers, as Open MPI's ABI has them (MPI_Comm, MPI_Datatype, MPI_Op are pointers to
 * global objects such as `ompi_mpi_comm_world`, whose addresses dlsym gives).
 *
 * Every function returns 0 on success or an MPI error code (or -1 when libmpi is not loaded);
 * lcr_mpi_error_string() turns a code into MPI's message.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Loads libmpi from `path` (NULL: the usual Open MPI sonames), resolves the functions and
 * handles, and fills `message` with why not on failure. 0 when loaded. */
int lcr_mpi_load(const char *path, char *message, size_t capacity);

/* MPI_Init_thread asking for MPI_THREAD_SERIALIZED (one thread at a time calls MPI: the caller
 * serialises), then MPI_ERRORS_RETURN on MPI_COMM_WORLD so failures come back as codes. */
int lcr_mpi_initialize(int *provided);
int lcr_mpi_rank(int *rank);
int lcr_mpi_size(int *size);
int lcr_mpi_finalize(void);
/* MPI_Abort on MPI_COMM_WORLD: the launcher stops every rank. */
int lcr_mpi_abort(int code);
int lcr_mpi_barrier(void);

/* In-place sums over every rank (MPI_Allreduce with MPI_IN_PLACE). count fits an int. */
int lcr_mpi_allreduce_sum_float(float *values, int count);
int lcr_mpi_allreduce_sum_double(double *values, int count);
int lcr_mpi_allreduce_max_double(double *values, int count);
/* MPI_Bcast of `count` bytes from `root`. */
int lcr_mpi_broadcast_bytes(void *bytes, int count, int root);
/* MPI_Allgather of one int64 per rank into `all` (size entries). */
int lcr_mpi_allgather_int64(int64_t value, int64_t *all);
/* MPI_Allgatherv of bytes: rank r's `count` bytes land at `displacements[r]` in `received`. */
int lcr_mpi_allgatherv_bytes(const void *bytes, int count, void *received, const int *counts,
                             const int *displacements);

/* MPI's message for an error code, into `buffer`. */
void lcr_mpi_error_string(int code, char *buffer, size_t capacity);

/* Prints `message` (copied) to standard error and exits with 128 + the signal on SIGTERM,
 * SIGINT and SIGHUP: what every rank says when the launcher stops the job because another
 * rank died. Async-signal-safe: write(2) and _exit(2) only. */
void lcr_install_stop_message(const char *message);

#ifdef __cplusplus
}
#endif

#endif
