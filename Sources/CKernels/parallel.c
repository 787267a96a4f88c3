// Splitting a loop over the cores, on the same threads oneDNN uses.
//
// Debian's oneDNN runs on OpenMP (libgomp). Between two of its primitives its worker threads
// spin for a while before sleeping, so a loop of ours split over threads of our own (pthreads)
// fought those spinning workers for the two cores, and a loop run on this thread alone left
// them spinning idle. Running our loops on the OpenMP team itself avoids both. The package is
// built without -fopenmp (that would need unsafe flags), so the team is reached through
// libgomp's entry points, looked up at run time in the libgomp that oneDNN already loaded;
// without them (another oneDNN build) the loop is split over pthreads instead.
#include "CKernels.h"
#include "parallel.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <unistd.h>

typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*omp_int_fn)(void);

static gomp_parallel_fn gomp_parallel;
static omp_int_fn omp_thread_num, omp_thread_count, omp_max_threads;
static pthread_once_t lookup_once = PTHREAD_ONCE_INIT;

static void look_up_openmp(void) {
    gomp_parallel = (gomp_parallel_fn)dlsym(RTLD_DEFAULT, "GOMP_parallel");
    omp_thread_num = (omp_int_fn)dlsym(RTLD_DEFAULT, "omp_get_thread_num");
    omp_thread_count = (omp_int_fn)dlsym(RTLD_DEFAULT, "omp_get_num_threads");
    omp_max_threads = (omp_int_fn)dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    if (!omp_thread_num || !omp_thread_count || !omp_max_threads) gomp_parallel = NULL;
}

typedef struct {
    lcr_range_body body;
    void *context;
    int64_t count;
} parallel_job;

static void run_share(parallel_job *job, int64_t share, int64_t shares) {
    const int64_t begin = job->count * share / shares, end = job->count * (share + 1) / shares;
    if (begin < end) job->body(job->context, begin, end);
}

static void openmp_share(void *argument) {
    run_share(argument, omp_thread_num(), omp_thread_count());
}

typedef struct {
    parallel_job *job;
    int64_t share, shares;
} thread_share;

static void *pthread_share(void *argument) {
    thread_share *s = argument;
    run_share(s->job, s->share, s->shares);
    return NULL;
}

void lcr_parallel_for(int64_t count, int64_t min_per_thread, lcr_range_body body, void *context) {
    parallel_job job = {body, context, count};
    if (count <= 0) return;
    pthread_once(&lookup_once, look_up_openmp);
    long cores = gomp_parallel ? omp_max_threads() : sysconf(_SC_NPROCESSORS_ONLN);
    int64_t threads = cores < 1 ? 1 : (cores > 64 ? 64 : cores);
    if (min_per_thread > 0 && count / min_per_thread < threads) threads = count / min_per_thread;
    if (threads <= 1) { body(context, 0, count); return; }
    if (gomp_parallel) { gomp_parallel(openmp_share, &job, (unsigned)threads, 0); return; }
    pthread_t ids[64];
    thread_share shares[64];
    int64_t started = 0;
    for (int64_t t = 0; t < threads; t++) {
        shares[t] = (thread_share){&job, t, threads};
        // The last share runs on this thread; a share whose thread cannot start does too.
        if (t == threads - 1 || pthread_create(&ids[started], NULL, pthread_share, &shares[t]) != 0) {
            pthread_share(&shares[t]);
        } else {
            started++;
        }
    }
    for (int64_t t = 0; t < started; t++) pthread_join(ids[t], NULL);
}

// Each thread of the team renices itself: on Linux, setpriority on a thread id changes that
// thread alone, and raising one's own niceness needs no privilege.
typedef struct {
    int increment;
    atomic_int changed;
} renice_job;

static void renice_share(void *context, int64_t begin, int64_t end) {
    (void)begin; (void)end;
    renice_job *job = context;
    const id_t thread = (id_t)syscall(SYS_gettid);
    errno = 0;
    const int current = getpriority(PRIO_PROCESS, thread);
    if (errno == 0 && setpriority(PRIO_PROCESS, thread, current + job->increment) == 0) {
        atomic_fetch_add(&job->changed, 1);
    }
}

int lcr_lower_compute_priority(int increment) {
    renice_job job = {increment, 0};
    // One share per thread of the team (the calling thread is one of them): the count only
    // has to exceed the team's size.
    lcr_parallel_for(1024, 1, renice_share, &job);
    return atomic_load(&job.changed);
}
