/* reader.c -- opens a stream or a recording and hands out its records. */
#include "internal.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

psg_reader *psg__reader_new(void)
{
	psg_reader *r = calloc(1, sizeof *r);
	if (r && !(r->h = psg_header_new())) {
		free(r);
		r = NULL;
	}
	return r;
}

void psg_reader_free(psg_reader *r)
{
	if (!r)
		return;
	if (r->ops)
		r->ops->close(r);
	for (int i = 0; i < r->nwarn; i++)
		free(r->warn[i]);
	free(r->warn);
	psg_header_free(r->h);
	free(r->next_time);
	free(r->path);
	free(r);
}

static psg_reader *finish_open(psg_reader *r, int st, int *status, char *msg,
			       size_t msglen)
{
	if (status)
		*status = st;
	if (st == PSG_OK)
		return r;
	psg__set_msg(msg, msglen, "%s", r->err[0] ? r->err : psg_strerror(st));
	psg_reader_free(r);
	return NULL;
}

/* A stream on fd, or on link if not NULL. */
static psg_reader *open_stream_on(int fd, psg_link *link, int *status,
				  char *msg, size_t msglen)
{
	psg_reader *r = psg__reader_new();
	if (!r) {
		psg__set_msg(msg, msglen, "out of memory");
		if (status)
			*status = PSG_ERR_NOMEM;
		return NULL;
	}
	int st = link ? psg__open_stream_link(r, link) :
		 psg__open_stream(r, fd, 0);
	if (st == PSG_OK)
		st = psg__check_header(r);
	return finish_open(r, st, status, msg, msglen);
}

psg_reader *psg_reader_open_fd(int fd, int *status, char *msg, size_t msglen)
{
	return open_stream_on(fd, NULL, status, msg, msglen);
}

psg_reader *psg_reader_open_link(psg_link *l, int *status, char *msg,
				 size_t msglen)
{
	return open_stream_on(-1, l, status, msg, msglen);
}

/* A stream file starts with the magic; anything else is taken for EDF. */
/* Every message about a file names it, once. */
static void name_file(psg_reader *r)
{
	size_t n = r->path ? strlen(r->path) : 0;
	if (!n || (!strncmp(r->err, r->path, n) && r->err[n] == ':'))
		return;
	char m[sizeof r->err + PSG_PATH_LEN];
	snprintf(m, sizeof m, "%s: %s", r->path, r->err);
	psg__strlcpy(r->err, m, sizeof r->err);
}

static int is_stream_file(const char *path)
{
	unsigned char m[PSG_MAGIC_LEN];
	int fd = open(path, O_RDONLY), yes = 0;
	if (fd < 0)
		return 0;
	yes = read(fd, m, sizeof m) == (ssize_t)sizeof m &&
	      !memcmp(m, PSG_MAGIC, PSG_MAGIC_LEN);
	close(fd);
	return yes;
}

static int open_file(psg_reader *r, const char *path, const psg_open_opts *o,
		     psg__opener special)
{
	int st;
	struct stat sb;
	if (access(path, R_OK) || stat(path, &sb))
		return psg__fail(r, PSG_ERR_IO, "%s", strerror(errno));
	if (S_ISDIR(sb.st_mode))
		return psg__fail(r, PSG_ERR_IO, "is a directory");
	if (is_stream_file(path)) {
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			return psg__fail(r, PSG_ERR_IO, "%s: %s", path,
					 strerror(errno));
		return psg__open_stream(r, fd, 1);
	}
	if (special && (st = special(r, path)) != 1)
		return st;
	/* The native parser by default: it reads a record in one read()
	   where edflib seeks once per signal (13x faster,
	   docs/performance.md), and it reads EDF+D and the header quirks
	   real recorders write.  edflib stays selectable, and the
	   conformance tests hold the two to the same samples. */
	if (o->backend == PSG_EDF_EDFLIB)
		return psg__open_edflib(r, path, o);
	return psg__open_native(r, path, o);
}

psg_reader *psg_reader_open(const char *path, const psg_open_opts *opts,
			    int *status, char *msg, size_t msglen)
{
	return psg__reader_open(path, opts, NULL, status, msg, msglen);
}

psg_reader *psg__reader_open(const char *path, const psg_open_opts *opts,
			     psg__opener special, int *status, char *msg,
			     size_t msglen)
{
	psg_open_opts none = {0};
	if (!strcmp(path, "-"))
		return psg_reader_open_fd(0, status, msg, msglen);
	psg_reader *r = psg__reader_new();
	if (!r) {
		psg__set_msg(msg, msglen, "out of memory");
		if (status)
			*status = PSG_ERR_NOMEM;
		return NULL;
	}
	int st = open_file(r, path, opts ? opts : &none, special);
	if (st == PSG_OK)
		st = psg__check_header(r);
	if (!(r->path = strdup(path)) && st == PSG_OK)
		st = psg__fail(r, PSG_ERR_NOMEM, "out of memory");
	if (st != PSG_OK)
		name_file(r);
	return finish_open(r, st, status, msg, msglen);
}

const psg_header *psg_reader_header(const psg_reader *r)
{
	return r->h;
}

int psg_reader_next(psg_reader *r, psg_record *rec)
{
	if (r->done)
		return 0;
	int st = r->ops->next(r, rec);
	int bad;
	if (st > 0 && (bad = psg__check_record(r, rec)))
		st = bad;
	if (st < 0)
		name_file(r);
	return st;
}

const char *psg_reader_errmsg(const psg_reader *r)
{
	return r->err;
}

int psg_reader_nwarnings(const psg_reader *r)
{
	return r->nwarn;
}

const char *psg_reader_warning(const psg_reader *r, int i)
{
	return i >= 0 && i < r->nwarn ? r->warn[i] : NULL;
}

int psg_reader_is_stream(const psg_reader *r)
{
	return r->is_stream;
}

int psg_reader_stream_version(const psg_reader *r, int *major, int *minor)
{
	if (!r->is_stream)
		return PSG_ERR_NOTFOUND;
	*major = (int)(r->stream_version & 0xffff);
	*minor = (int)(r->stream_version >> 16);
	return PSG_OK;
}

int psg__select(psg_reader *r, const psg_open_opts *o, int *map, int nmax)
{
	char bad[PSG_LABEL_LEN] = "";
	int n = psg_select_channels(r->h, o->channels, map, nmax, bad,
				    sizeof bad);
	if (n == PSG_ERR_NOTFOUND)
		return psg__fail(r, n, "no channel matches '%s'", bad);
	if (n == PSG_ERR_ARG)
		return psg__fail(r, n, "empty channel selection '%s'", bad);
	if (n < 0)
		return psg__fail(r, n, "channel selection: %s",
				 psg_strerror(n));
	/* Keep only the selected channels, in file order. */
	for (int i = 0; i < n; i++)
		r->h->channels[i] = r->h->channels[map[i]];
	r->h->nchannels = n;
	if (o->epoch_len > 0)
		r->h->epoch_len = o->epoch_len;
	if (o->epoch_origin > 0)
		r->h->epoch_origin = o->epoch_origin;
	return n;
}
