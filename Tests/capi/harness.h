/*
 * The tiny harness shared by the C ABI test programs: CHECK and EXPECT record failures, and
 * run_tests runs each test in a child process, so a trap or crash in the library counts as a
 * failure instead of ending the run. Closing line: "N passed, N failed".
 */
#ifndef GRLHF_TEST_HARNESS_H
#define GRLHF_TEST_HARNESS_H

#include "grlhf.h"

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures; /* per child process */

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            printf("    FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);               \
            failures++;                                                              \
        }                                                                            \
    } while (0)

/* A call must return `want`; a failure must leave a non-empty message, a success an empty one. */
#define EXPECT(call, want) expect_status((call), (want), #call, __LINE__)

static void expect_status(grlhf_status got, grlhf_status want, const char *expr, int line) {
    const char *message = grlhf_last_error();
    if (got != want) {
        printf("    FAIL line %d: %s returned %d (%s), wanted %d (%s); last error: \"%s\"\n", line,
               expr, (int)got, grlhf_status_string(got), (int)want, grlhf_status_string(want),
               message);
        failures++;
    } else if (want != GRLHF_OK && message[0] == '\0') {
        printf("    FAIL line %d: %s failed without a message\n", line, expr);
        failures++;
    } else if (want == GRLHF_OK && message[0] != '\0') {
        printf("    FAIL line %d: %s succeeded but left the message \"%s\"\n", line, expr, message);
        failures++;
    }
}

typedef struct {
    const char *name;
    void (*run)(void);
} test_case;

/* Runs every test in its own child process (killed after `seconds`); returns the exit code. */
static int run_tests(const test_case *tests, size_t n, unsigned seconds) {
    size_t i;
    int passed = 0, failed = 0;
    for (i = 0; i < n; i++) {
        pid_t pid;
        int status = 0;
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            alarm(seconds); /* a hang counts as a failure too */
            failures = 0;
            tests[i].run();
            fflush(stdout);
            _exit(failures == 0 ? 0 : 1);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid) {
            printf("FAIL %s (could not run the child process)\n", tests[i].name);
            failed++;
        } else if (WIFSIGNALED(status)) {
            printf("FAIL %s (crashed with signal %d)\n", tests[i].name, WTERMSIG(status));
            failed++;
        } else if (WEXITSTATUS(status) != 0) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            printf("ok   %s\n", tests[i].name);
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

#endif
