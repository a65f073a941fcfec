/*
 * mark.so: a stand-in for the LD_PRELOAD library Farmguardian puts in front
 * of checks on l4xnat farms. It wraps libc's socket() and, when the MARK
 * environment variable holds a number, sets SO_MARK on each new socket.
 *
 * The tests use it to show that our checks do not depend on it: they are
 * static Go programs, which make system calls without libc, so the dynamic
 * loader never maps this library into them. When LBC_MARKSO_LOG names a
 * file, every process that loads the library, and every socket it marks, is
 * recorded there: the tests read it to prove which programs it reached.
 *
 * Build: gcc -shared -fPIC -O2 -o mark.so mark.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void note(const char *what, unsigned long mark)
{
	const char *path = getenv("LBC_MARKSO_LOG");
	char exe[256], line[512];
	ssize_t n;
	int fd, len;

	if (path == NULL || *path == '\0')
		return;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	exe[n > 0 ? n : 0] = '\0';
	len = snprintf(line, sizeof line, "%s pid=%d exe=%s mark=%#lx\n", what, (int)getpid(), exe, mark);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	/* one write per line with O_APPEND: lines from concurrent processes do not interleave */
	if (write(fd, line, (size_t)len) < 0) {
		/* nothing useful to do: the log is only evidence for the tests */
	}
	close(fd);
}

__attribute__((constructor)) static void loaded(void)
{
	note("loaded", 0);
}

int socket(int domain, int type, int protocol)
{
	static int (*real_socket)(int, int, int);
	const char *env;
	char *end;
	unsigned long mark;
	int fd, saved;

	if (real_socket == NULL)
		real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	if (real_socket == NULL) {
		errno = ENOSYS;
		return -1;
	}
	fd = real_socket(domain, type, protocol);
	env = getenv("MARK");
	if (fd < 0 || env == NULL || *env == '\0')
		return fd;
	errno = 0;
	mark = strtoul(env, &end, 0);
	if (errno != 0 || *end != '\0' || mark > 0xffffffffUL)
		return fd;
	/* a failure (no CAP_NET_ADMIN) leaves the socket unmarked, as a preload cannot report it */
	saved = errno;
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &(unsigned int){(unsigned int)mark}, sizeof(unsigned int)) == 0)
		note("marked", mark);
	errno = saved;
	return fd;
}
