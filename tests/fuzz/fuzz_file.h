/* fuzz_file: one in-memory file per process (memfd_create) holding the current input, named
 * "/proc/self/fd/N" so that readers taking a path open it like a file on disk, without disk
 * writes. Header-only (static functions): each harness is one translation unit. */
#ifndef FUZZ_FILE_H
#define FUZZ_FILE_H

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

/* Replaces the file's content with data[0..size) and writes its path into path[n]; -1 when
 * the memfd cannot be made or written (the harness then skips the input). */
static int fuzz_file_set(const uint8_t *data, size_t size, char *path, size_t n)
{
    static int fd = -1;
    if (fd < 0 && (fd = memfd_create("tdi-fuzz", 0)) < 0)
        return -1;
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
        return -1;
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return 0;
}

#endif
