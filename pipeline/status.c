/* status.c -- status texts and message helpers. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

const char *psg_strerror(int status)
{
	switch (status) {
	case PSG_OK: return "success";
	case PSG_ERR_NOMEM: return "out of memory";
	case PSG_ERR_IO: return "input/output error";
	case PSG_ERR_FORMAT: return "malformed input";
	case PSG_ERR_TRUNCATED: return "input ends early";
	case PSG_ERR_VERSION: return "incompatible stream version";
	case PSG_ERR_ARG: return "invalid argument";
	case PSG_ERR_UNSUPPORTED: return "unsupported input";
	case PSG_ERR_NOTFOUND: return "not found";
	case PSG_ERR_LIMIT: return "beyond a limit";
	}
	return "unknown status";
}

/* A message is one line of text: one that quotes a corrupt input (a
   hypnogram's "bad line '...'", a label) must not carry its newlines,
   carriage returns or terminal escapes along (mutate.py found them). */
void psg__one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void psg__set_msg(char *msg, size_t n, const char *fmt, ...)
{
	va_list ap;
	if (!msg || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
	psg__one_line(msg);
}

int psg__fail(psg_reader *r, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	psg__one_line(r->err);
	return status;
}

void psg__warn(psg_reader *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	char **w;
	/* A flood of identical complaints helps nobody: keep the first 32. */
	if (r->nwarn >= 32)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	psg__one_line(buf);
	w = realloc(r->warn, (r->nwarn + 1) * sizeof *w);
	if (!w)
		return;
	r->warn = w;
	if ((w[r->nwarn] = strdup(buf)))
		r->nwarn++;
}

void psg__strlcpy(char *dst, const char *src, size_t n)
{
	size_t len = strlen(src);
	if (!n)
		return;
	if (len >= n)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}

void psg__copy_trim(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t len = strnlen(src, srclen);
	while (len && (src[len - 1] == ' ' || src[len - 1] == '\0'))
		len--;
	if (len >= dstlen)
		len = dstlen - 1;
	memcpy(dst, src, len);
	dst[len] = '\0';
}
