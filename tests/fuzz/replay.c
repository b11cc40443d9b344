/* SPDX-License-Identifier: MIT */
/*
 * Runs fuzz_norm.c's LLVMFuzzerTestOneInput on files, without libFuzzer: the Meson test
 * fuzz-corpus replays tests/fuzz/corpus/ (the seeds and every regression input) in every build,
 * under every compiler, sanitizer and emulated CPU the test suite runs on. A disagreement aborts
 * (the target prints which input, tier and element); so does an unreadable path.
 *
 *   fuzz-replay FILE_OR_DIRECTORY...
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
long fuzz_norm_compared(void);

static long replayed;

static void replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* Printed before the run, so that a crash names its input. */
    fprintf(stderr, "fuzz-replay: %s (%zu bytes)\n", path, len);
    /* A copy of exactly len bytes: AddressSanitizer then sees a read past the input. */
    uint8_t *data = malloc(len ? len : 1);
    if (!data)
        abort();
    memcpy(data, buf, len);
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    replayed++;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void replay_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    if (!S_ISDIR(st.st_mode)) {
        replay_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    char **names = NULL;
    size_t count = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (count + 1) * sizeof *names);
        if (!names || asprintf(&names[count], "%s/%s", path, e->d_name) < 0)
            abort();
        count++;
    }
    closedir(d);
    if (count == 0) {
        fprintf(stderr, "fuzz-replay: %s holds no input\n", path);
        exit(EXIT_FAILURE);
    }
    qsort(names, count, sizeof *names, by_name); /* the same order every run */
    for (size_t i = 0; i < count; i++) {
        replay_file(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
        return EXIT_FAILURE;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 1; i < argc; i++)
        replay_path(argv[i]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("fuzz-replay: %ld inputs, %ld output values held to the oracle's, no disagreement (%.2f s)\n",
           replayed, fuzz_norm_compared(),
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    return EXIT_SUCCESS;
}
