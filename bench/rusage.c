/* rusage OUTFILE COMMAND [ARG...]: run COMMAND, then write "WALL_S USER_S SYS_S MAXRSS_KIB" to OUTFILE and
 * exit with COMMAND's status (128 + N when killed by signal N).
 *
 * bench.py compiles this once per run of the suite and launches every tool through it. Why not os.wait4 in
 * Python directly: Linux carries the peak RSS of the memory image a process replaces at exec into its
 * ru_maxrss, so a tool started from the benchmark's Python process (tens of MiB after seeding) would report
 * at least Python's peak. Forked from this small program, the floor is about 1 MiB.
 * The numbers cover COMMAND and every descendant it waited for (wait4 on Linux): CPU is their sum, RSS the
 * largest single process.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: rusage OUTFILE COMMAND [ARG...]\n");
        return 2;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid < 0) {
        perror("rusage: fork");
        return 127;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "rusage: cannot run %s: ", argv[2]);
        perror("");
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("rusage: wait4");
            return 127;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror("rusage: OUTFILE");
        return 127;
    }
    fprintf(out, "%.6f %.6f %.6f %ld\n",
            (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
    fclose(out);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
