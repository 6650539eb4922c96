/* SPDX-License-Identifier: MIT */
/* Replays every file given (or every file in the given directories) through the fuzz target. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return -1;
        FILE *f = fopen(path, "rb");
        if (!f)
                return -1;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *b = malloc((size_t)n + 1);
        size_t got = fread(b, 1, (size_t)n, f);
        fclose(f);
        LLVMFuzzerTestOneInput(b, got);
        free(b);
        return 0;
}

int main(int argc, char **argv)
{
        int files = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0)
                        continue;
                if (!S_ISDIR(st.st_mode)) {
                        files += run_file(argv[i]) == 0;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        char p[4096];
                        if (de->d_name[0] == '.')
                                continue;
                        snprintf(p, sizeof(p), "%s/%s", argv[i], de->d_name);
                        files += run_file(p) == 0;
                }
                if (d)
                        closedir(d);
        }
        printf("replayed %d corpus files\n", files);
        return files > 0 ? 0 : 1;
}
