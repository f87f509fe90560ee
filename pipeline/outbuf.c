/* outbuf.c -- the buffered output loop both writers (stream, EDF) use
   into a file descriptor with write(2); a stream writer into a link hands
   over slices instead (stream_write.c, link.c). */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int psg__write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		p += k, n -= (size_t)k;
	}
	return 0;
}

int psg__flush_to(int fd, unsigned char *buf, size_t *used)
{
	if (psg__write_all(fd, buf, *used))
		return -1;
	*used = 0;
	return 0;
}

int psg__buffered(int fd, unsigned char *buf, size_t *used, const void *p,
		  size_t n)
{
	const unsigned char *s = p;
	while (n) {
		size_t room = PSG__OUTBUF - *used, k = n < room ? n : room;
		memcpy(buf + *used, s, k);
		*used += k, s += k, n -= k;
		if (*used == PSG__OUTBUF && psg__flush_to(fd, buf, used))
			return -1;
	}
	return 0;
}
