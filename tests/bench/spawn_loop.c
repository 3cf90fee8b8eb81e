/* spawn_loop: the baseline of the benchmark. Runs N copies of a command with at most C in
 * flight, with posix_spawn + waitpid and nothing else, and prints the elapsed seconds.
 * Usage: spawn_loop N C command [args...]
 * A child that does not exit 0 is counted and reported on stderr (exit status 1). */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: spawn_loop N C command [args...]\n");
        return 2;
    }
    long n = atol(argv[1]), c = atol(argv[2]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long started = 0, running = 0, failed = 0;
    while (started < n || running > 0) {
        while (started < n && running < c) {
            pid_t pid;
            if (posix_spawn(&pid, argv[3], NULL, NULL, argv + 3, environ) != 0) {
                perror("posix_spawn");
                return 1;
            }
            started++;
            running++;
        }
        int status;
        if (wait(&status) > 0) {
            running--;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%.6f\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    if (failed) fprintf(stderr, "spawn_loop: %ld of %ld children did not exit 0\n", failed, n);
    return failed ? 1 : 0;
}
