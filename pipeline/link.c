/*
 * link.c -- a stream between two threads of one process (psg-chain).
 *
 * A pipe between two stages costs two copies through the kernel and a
 * system call per megabyte each side: about 0.25 CPU s per hop on an 8-h
 * night (docs/performance.md).  A link carries the same bytes without
 * copying them: the writer hands over its whole output buffer and takes an
 * empty one back; the reader takes the full buffer as its input buffer and
 * hands back the one it has read.  Every buffer is PSG__OUTBUF bytes, so
 * either side can take any.  At most LINK_DEPTH full buffers wait in a
 * link, so memory stays bounded as a pipe's does: a writer ahead of its
 * reader waits.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* One full buffer waiting, one being filled, one being read: as a 1-MiB
   pipe between two stages' 1-MiB buffers.  Two waiting cost 6 MB more in
   psg-night's chain and saved no time (8-h night, 2 cores). */
#define LINK_DEPTH 1
/* Buffers in circulation: the queue's, the writer's and the reader's. */
#define LINK_BUFS (LINK_DEPTH + 2)

struct psg_link {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	unsigned char *full[LINK_DEPTH];
	size_t len[LINK_DEPTH];
	int head, count;
	unsigned char *spare[LINK_BUFS];
	int nspare;
	int write_closed, read_closed;
};

psg_link *psg_link_new(void)
{
	psg_link *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	if (pthread_mutex_init(&l->mu, NULL)) {
		free(l);
		return NULL;
	}
	if (pthread_cond_init(&l->changed, NULL)) {
		pthread_mutex_destroy(&l->mu);
		free(l);
		return NULL;
	}
	return l;
}

void psg_link_free(psg_link *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->count; i++)
		free(l->full[(l->head + i) % LINK_DEPTH]);
	for (int i = 0; i < l->nspare; i++)
		free(l->spare[i]);
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void set_closed(psg_link *l, int *flag)
{
	pthread_mutex_lock(&l->mu);
	*flag = 1;
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->mu);
}

void psg_link_close_write(psg_link *l)
{
	if (l)
		set_closed(l, &l->write_closed);
}

void psg_link_close_read(psg_link *l)
{
	if (l)
		set_closed(l, &l->read_closed);
}

/* A buffer returned to the link; the spare list cannot overflow, since no
   more than LINK_BUFS buffers ever exist (see psg__link_put). */
static void keep_spare(psg_link *l, unsigned char *buf)
{
	if (buf && l->nspare < LINK_BUFS)
		l->spare[l->nspare++] = buf;
	else
		free(buf);
}

int psg__link_put(psg_link *l, unsigned char **buf, size_t len)
{
	if (!len)
		return 0;
	pthread_mutex_lock(&l->mu);
	while (l->count == LINK_DEPTH && !l->read_closed)
		pthread_cond_wait(&l->changed, &l->mu);
	if (l->read_closed) {
		pthread_mutex_unlock(&l->mu);
		errno = EPIPE;
		return -1;
	}
	int tail = (l->head + l->count) % LINK_DEPTH;
	l->full[tail] = *buf, l->len[tail] = len;
	l->count++;
	unsigned char *next = l->nspare ? l->spare[--l->nspare] : NULL;
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->mu);
	/* Only while fewer than LINK_BUFS exist: the writer's own, the
	   reader's and the queued ones. */
	*buf = next ? next : malloc(PSG__OUTBUF);
	if (!*buf) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

ssize_t psg__link_get(psg_link *l, unsigned char **buf)
{
	pthread_mutex_lock(&l->mu);
	keep_spare(l, *buf);
	*buf = NULL;
	while (!l->count && !l->write_closed)
		pthread_cond_wait(&l->changed, &l->mu);
	ssize_t n = 0;
	if (l->count) {
		*buf = l->full[l->head];
		n = (ssize_t)l->len[l->head];
		l->head = (l->head + 1) % LINK_DEPTH;
		l->count--;
		pthread_cond_broadcast(&l->changed);
	}
	pthread_mutex_unlock(&l->mu);
	return n;
}
