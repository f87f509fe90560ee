/*
 * link.c -- a stream between two threads of one process (psg-chain).
 *
 * A pipe between two stages costs two copies through the kernel and a
 * system call per megabyte each side: about 0.25 CPU s per hop on an 8-h
 * night (docs/performance.md).  A link carries the same bytes without
 * copying them: what travels is a *slice* of a buffer, with a reference
 * to it.  A writer hands over slices of its own output buffer, and, for a
 * DATA record it forwards unchanged, the slice of its reader's input
 * where that record already lies (stream_write.c): a stage that only
 * passes samples on copies none of them.  A buffer goes back to a small
 * pool when its last reference is dropped, by whichever thread holds it.
 *
 * At most LINK_BYTES bytes (and LINK_SLICES slices) wait in a link, so
 * memory stays bounded as a pipe's does: a writer ahead of its reader
 * waits.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

/* A megabyte waiting, as a 1-MiB pipe between two stages' 1-MiB buffers.
   Two cost 6 MB more in psg-night's chain and saved no time (8-h night,
   2 cores).  The slice count only bounds the queue's array: slices come
   as big as the runs of forwarded records, or a buffer. */
#define LINK_BYTES PSG__OUTBUF
#define LINK_SLICES 256
/* Buffers kept for reuse: one fresh megabyte costs 256 page faults. */
#define POOL_MAX 32

/* ---- buffers ---- */

/* The count sits in front of the bytes, a cache line apart from them. */
typedef struct buf_head {
	alignas(64) atomic_int refs;
} buf_head;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static buf_head *pool[POOL_MAX];    /* as allocated: still reachable */
static int npool;
static atomic_int nlive;

static buf_head *head_of(unsigned char *b)
{
	return (buf_head *)(void *)(b - sizeof(buf_head));
}

unsigned char *psg__buf_new(void)
{
	unsigned char *b = NULL;
	pthread_mutex_lock(&pool_mu);
	if (npool)
		b = (unsigned char *)pool[--npool] + sizeof(buf_head);
	pthread_mutex_unlock(&pool_mu);
	if (!b) {
		unsigned char *p = aligned_alloc(64, sizeof(buf_head) +
						 PSG__OUTBUF);
		if (!p)
			return NULL;
		b = p + sizeof(buf_head);
		atomic_fetch_add(&nlive, 1);
	}
	atomic_init(&head_of(b)->refs, 1);
	return b;
}

void psg__buf_ref(unsigned char *b)
{
	atomic_fetch_add_explicit(&head_of(b)->refs, 1, memory_order_relaxed);
}

void psg__buf_unref(unsigned char *b)
{
	if (!b || atomic_fetch_sub_explicit(&head_of(b)->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	pthread_mutex_lock(&pool_mu);
	if (npool < POOL_MAX) {
		pool[npool++] = head_of(b);
		b = NULL;
	}
	pthread_mutex_unlock(&pool_mu);
	if (b) {
		free(head_of(b));
		atomic_fetch_sub(&nlive, 1);
	}
}

int psg__buf_live(void)
{
	return atomic_load(&nlive);
}

/* ---- links ---- */

struct psg_link {
	pthread_mutex_t mu;
	pthread_cond_t changed;
	psg__slice q[LINK_SLICES];
	int head, count;
	size_t bytes;            /* in the queue */
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

/* The queue's references, dropped (under the lock, or when alone). */
static void drop_queue(psg_link *l)
{
	for (; l->count; l->count--, l->head = (l->head + 1) % LINK_SLICES)
		psg__buf_unref(l->q[l->head].buf);
	l->bytes = 0;
}

void psg_link_free(psg_link *l)
{
	if (!l)
		return;
	drop_queue(l);
	pthread_cond_destroy(&l->changed);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void set_closed(psg_link *l, int *flag)
{
	pthread_mutex_lock(&l->mu);
	*flag = 1;
	if (flag == &l->read_closed)   /* nobody will read them */
		drop_queue(l);
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

int psg__link_put(psg_link *l, const psg__slice *s, int n)
{
	pthread_mutex_lock(&l->mu);
	while ((l->count + n > LINK_SLICES || l->bytes >= LINK_BYTES) &&
	       !l->read_closed)
		pthread_cond_wait(&l->changed, &l->mu);
	if (l->read_closed) {
		pthread_mutex_unlock(&l->mu);
		for (int i = 0; i < n; i++)
			psg__buf_unref(s[i].buf);
		errno = EPIPE;
		return -1;
	}
	int was_empty = !l->count;
	for (int i = 0; i < n; i++) {
		l->q[(l->head + l->count) % LINK_SLICES] = s[i];
		l->count++;
		l->bytes += s[i].len;
	}
	/* The reader waits only on an empty queue. */
	if (was_empty && l->count)
		pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->mu);
	return 0;
}

int psg__link_get(psg_link *l, psg__slice *s)
{
	pthread_mutex_lock(&l->mu);
	while (!l->count && !l->write_closed)
		pthread_cond_wait(&l->changed, &l->mu);
	*s = (psg__slice){NULL, 0, 0};
	if (l->count) {
		int full = l->count > LINK_SLICES - PSG__BATCH ||
			   l->bytes >= LINK_BYTES;
		*s = l->q[l->head];
		l->head = (l->head + 1) % LINK_SLICES;
		l->count--;
		l->bytes -= s->len;
		if (full)   /* the writer may be waiting */
			pthread_cond_broadcast(&l->changed);
	}
	pthread_mutex_unlock(&l->mu);
	return s->len > 0;
}
