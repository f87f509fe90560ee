/*
 * ahead.c -- filters run ahead of their consumer, on a thread of their
 * own (psg_ahead, psg.h).
 *
 * psg-emg spends a quarter of its time in FFTW (three EMG channels at
 * 512 Hz through 1661-tap filters, and the ECG), work that needs nothing
 * of what its detectors find.  With psg_ahead a second thread reads the
 * stream, runs those filters on each of their channels' DATA records, and
 * hands the records on, unchanged, through a link (link.c) to the
 * consumer, which reads them from psg_ahead_reader().  Where the consumer
 * would push a block into a filter or finish it, it calls psg_ahead_push
 * or psg_ahead_finish instead; these take the outputs the thread made for
 * that very call (each slot's calls are numbered alike on both sides), so
 * the consumer sees, after each call, exactly the samples the filter
 * would have had ready: its output, the order of its work and its stream
 * are those of the filter run in line.
 *
 * The thread calls a slot's filter as the consumer must: _push for each
 * non-empty DATA record of the slot's channel, after a _finish where the
 * channel's segment breaks (its t0 changes, or its offset is not where
 * the last record ended) once the slot has started, and a _finish of
 * every started slot at END.
 *
 * Memory stays bounded: the thread is ahead by at most the link's
 * megabyte (it waits when the link is full), and the outputs it holds are
 * those of the records in the link, plus one FFT block per slot.  It
 * never waits for the consumer otherwise, and the consumer never waits
 * for an output whose record it has read (the thread hands the outputs
 * over before the record), so neither can wait on the other in a circle.
 *
 * Without a thread (threads < 2: in psg-chain, whose stages already keep
 * the cores busy) the same calls run the filters in line.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { OP_PUSH, OP_FINISH };

typedef struct op {             /* one call's outputs, made ahead */
	int kind;
	size_t n, cap;              /* bytes */
	unsigned char *x;           /* floats, or a drain's message */
} op;

/* Buffers of outputs taken, kept for the thread's next ones: one freed
   on the consumer's thread went back to the allocator's arena of the
   other, which gave its pages back and faulted them in again. */
#define SPARE 8

typedef struct aslot {
	int channel;
	psg_filter *f;
	psg_ahead_drain fn;         /* drains f on the thread, if set */
	void *ctx;
	/* the thread's view of the channel's segment */
	int started;
	int64_t t0, next;
	/* calls made ahead, not yet taken, and spare buffers (under the
	   lock) */
	op *ops;
	size_t oh, on, ocap;
	op spare[SPARE];
	int nspare;
	/* the consumer's: calls taken from the thread's all at once (one
	   lock for many), and their buffers to give back at the next */
	op *lops;
	size_t loh, lon, locap;
	op ret[SPARE];
	int nret;
	psg__fifo q;                /* outputs taken, for _peek and _consume */
	/* a drained slot's last message, taken (or the drain's own) */
	op m;
	const void *msg;
	size_t mlen;
} aslot;

struct psg_ahead {
	psg_reader *in;             /* the caller's; read by the thread */
	int threaded, running;
	aslot s[PSG_AHEAD_SLOTS];
	int n;
	psg_link *link;
	psg_writer *w;              /* the thread's, onto the link */
	psg_reader *out;            /* the consumer's, from the link */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;                   /* the thread has stopped */
	int status;                 /* why, when it failed */
	char msg[512];
};

psg_ahead *psg_ahead_new(psg_reader *in, int threads, int *status)
{
	psg_ahead *a = calloc(1, sizeof *a);
	if (!a) {
		if (status)
			*status = PSG_ERR_NOMEM;
		return NULL;
	}
	a->in = in;
	a->threaded = threads >= 2;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (status)
		*status = PSG_OK;
	return a;
}

int psg_ahead_add(psg_ahead *a, int channel, psg_filter *f)
{
	return psg_ahead_add_drain(a, channel, f, NULL, NULL);
}

int psg_ahead_add_drain(psg_ahead *a, int channel, psg_filter *f,
			psg_ahead_drain fn, void *ctx)
{
	if (a->running || !f || a->n == PSG_AHEAD_SLOTS)
		return PSG_ERR_ARG;
	a->s[a->n] = (aslot){.channel = channel, .f = f, .fn = fn,
			     .ctx = ctx};
	return a->n++;
}

/* ---- the thread ---- */

/* A buffer for o->n bytes: a spare one if it is big enough. */
static int buffer(psg_ahead *a, aslot *s, op *o)
{
	pthread_mutex_lock(&a->mu);
	if (s->nspare)
		*o = (op){o->kind, o->n, s->spare[s->nspare - 1].cap,
			  s->spare[s->nspare - 1].x}, s->nspare--;
	pthread_mutex_unlock(&a->mu);
	if (o->cap >= o->n)
		return PSG_OK;
	free(o->x);
	o->cap = o->n;
	return (o->x = malloc(o->n)) ? PSG_OK : PSG_ERR_NOMEM;
}

/* The slot's last call's outputs (b NULL: a finish), or its drain's
   message on them, into o. */
static int outputs(psg_ahead *a, aslot *s, const psg_block *b, op *o)
{
	const void *msg = NULL;
	int st;
	if (s->fn && (st = s->fn(s->ctx, s->f, b, &msg, &o->n)))
		return st;
	if (!s->fn)
		o->n = sizeof(float) * (size_t)psg_filter_ready(s->f);
	if (!o->n)
		return PSG_OK;
	if (buffer(a, s, o))
		return PSG_ERR_NOMEM;
	if (s->fn)
		memcpy(o->x, msg, o->n);
	else
		psg_filter_pull(s->f, (float *)(void *)o->x,
				(int)(o->n / sizeof(float)));
	return PSG_OK;
}

/* The outputs of the slot's last call, handed to the consumer. */
static int publish(psg_ahead *a, aslot *s, int kind, const psg_block *b)
{
	op o = {kind, 0, 0, NULL};
	int st = outputs(a, s, b, &o);
	if (st) {
		free(o.x);
		return st;
	}
	pthread_mutex_lock(&a->mu);
	if (s->on == s->ocap) {     /* grow, the ring unrolled */
		size_t cap = s->ocap ? 2 * s->ocap : 64;
		op *ops = malloc(sizeof *ops * cap);
		if (!ops) {
			pthread_mutex_unlock(&a->mu);
			free(o.x);
			return PSG_ERR_NOMEM;
		}
		for (size_t i = 0; i < s->on; i++)
			ops[i] = s->ops[(s->oh + i) % s->ocap];
		free(s->ops);
		s->ops = ops, s->oh = 0, s->ocap = cap;
	}
	s->ops[(s->oh + s->on++) % s->ocap] = o;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	return PSG_OK;
}

static int front_block(psg_ahead *a, const psg_block *b)
{
	int st = PSG_OK;
	for (int i = 0; i < a->n && !st; i++) {
		aslot *s = &a->s[i];
		if (s->channel != b->channel)
			continue;
		if (s->started && (b->t0 != s->t0 || b->offset != s->next))
			if ((st = psg_filter_finish(s->f)) ||
			    (st = publish(a, s, OP_FINISH, NULL)))
				break;
		s->started = 1, s->t0 = b->t0, s->next = b->offset + b->n;
		if (!(st = psg_filter_push(s->f, b->x, b->n)))
			st = publish(a, s, OP_PUSH, b);
	}
	return st;
}

static int front_end(psg_ahead *a)
{
	int st = PSG_OK;
	for (int i = 0; i < a->n && !st; i++)
		if (a->s[i].started && !(st = psg_filter_finish(a->s[i].f)))
			st = publish(a, &a->s[i], OP_FINISH, NULL);
	return st;
}

/* The thread's end: why first, then the link's end, so that a consumer
   whose reader meets the end finds the reason already set. */
static void stop(psg_ahead *a, int st, const char *msg)
{
	pthread_mutex_lock(&a->mu);
	a->done = 1;
	if (st < 0 && !a->status) {
		a->status = st;
		psg__strlcpy(a->msg, msg ? msg : psg_strerror(st),
			     sizeof a->msg);
	}
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	psg_link_close_write(a->link);
}

static void *front(void *arg)
{
	psg_ahead *a = arg;
	psg_record rec;
	int st;
	while ((st = psg_reader_next(a->in, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			if ((st = front_end(a)))
				return stop(a, st, NULL), NULL;
			if ((st = psg_writer_finish(a->w, &rec.end)))
				return stop(a, st, psg_writer_errmsg(a->w)), NULL;
			return stop(a, PSG_OK, NULL), NULL;
		}
		if (rec.kind == PSG_REC_DATA && rec.block.n > 0 &&
		    (st = front_block(a, &rec.block)))
			return stop(a, st, NULL), NULL;
		if ((st = psg_write_record(a->w, &rec)))
			return stop(a, st, psg_writer_errmsg(a->w)), NULL;
	}
	/* The input ended without END (the reader says so), or failed. */
	stop(a, st < 0 ? st : PSG_ERR_TRUNCATED, psg_reader_errmsg(a->in));
	return NULL;
}

/* ---- the consumer ---- */

int psg_ahead_start(psg_ahead *a, char *msg, size_t msglen)
{
	int st;
	if (a->running || !a->threaded)
		return a->running ? PSG_ERR_ARG : PSG_OK;
	if (!(a->link = psg_link_new()))
		return psg__set_msg(msg, msglen, "out of memory"), PSG_ERR_NOMEM;
	a->w = psg_writer_open_link(a->link, psg_reader_header(a->in), &st);
	if (!a->w) {
		psg__set_msg(msg, msglen, "%s", psg_strerror(st));
		return st;
	}
	if (pthread_create(&a->th, NULL, front, a)) {
		psg__set_msg(msg, msglen, "cannot start a thread");
		return PSG_ERR_NOMEM;
	}
	a->running = 1;
	a->out = psg_reader_open_link(a->link, &st, msg, msglen);
	return a->out ? PSG_OK : st;
}

psg_reader *psg_ahead_reader(psg_ahead *a)
{
	return a->threaded ? a->out : a->in;
}

int psg_ahead_error(psg_ahead *a, const char **msg)
{
	pthread_mutex_lock(&a->mu);
	int st = a->status;
	pthread_mutex_unlock(&a->mu);
	if (msg)
		*msg = st ? a->msg : "";
	return st;
}

/* Every call the thread has made for the slot, moved to the consumer's
   ring at once (the two rings swap), and the buffers it is done with
   given back as spares: one lock for many calls. */
static int take_all(psg_ahead *a, aslot *s)
{
	pthread_mutex_lock(&a->mu);
	while (!s->on && !a->done)
		pthread_cond_wait(&a->cv, &a->mu);
	int st = s->on ? PSG_OK : a->status ? a->status : PSG_ERR_ARG;
	while (s->nret && s->nspare < SPARE)
		s->spare[s->nspare++] = s->ret[--s->nret];
	op *ops = s->ops;
	size_t oh = s->oh, on = s->on, ocap = s->ocap;
	s->ops = s->lops, s->oh = 0, s->on = 0, s->ocap = s->locap;
	s->lops = ops, s->loh = oh, s->lon = on, s->locap = ocap;
	pthread_mutex_unlock(&a->mu);
	while (s->nret)
		free(s->ret[--s->nret].x);
	return st;
}

/* The outputs of the slot's next call, made ahead: a call of the same
   kind, or the consumer's calls do not follow the thread's. */
static int take(psg_ahead *a, int i, int kind)
{
	aslot *s = &a->s[i];
	int st = s->lon ? PSG_OK : take_all(a, s);
	op o = {0, 0, 0, NULL};
	if (!st) {
		o = s->lops[s->loh];
		s->loh = (s->loh + 1) % s->locap, s->lon--;
	}
	if (!st && o.kind != kind)
		st = PSG_ERR_ARG;
	if (!st && s->fn) {         /* the message, kept until the next */
		op m = s->m;
		s->m = o, o = m;
		s->msg = s->m.x, s->mlen = s->m.n;
	} else if (!st && o.n)
		st = psg__fifo_put(&s->q, (float *)(void *)o.x,
				   o.n / sizeof(float), s->q.n / 2);
	if (o.x && s->nret < SPARE)
		s->ret[s->nret++] = o, o.x = NULL;
	free(o.x);
	return st;
}

/* In line: the filter, then its drain (whose message stays its own). */
static int in_line(aslot *s, const psg_block *b, int st)
{
	s->msg = NULL, s->mlen = 0;
	if (!st && s->fn)
		st = s->fn(s->ctx, s->f, b, &s->msg, &s->mlen);
	return st;
}

int psg_ahead_push(psg_ahead *a, int slot, const psg_block *b)
{
	if (slot < 0 || slot >= a->n || !b)
		return PSG_ERR_ARG;
	aslot *s = &a->s[slot];
	return a->threaded ? take(a, slot, OP_PUSH) :
	       in_line(s, b, psg_filter_push(s->f, b->x, b->n));
}

int psg_ahead_finish(psg_ahead *a, int slot)
{
	if (slot < 0 || slot >= a->n)
		return PSG_ERR_ARG;
	aslot *s = &a->s[slot];
	return a->threaded ? take(a, slot, OP_FINISH) :
	       in_line(s, NULL, psg_filter_finish(s->f));
}

const void *psg_ahead_message(psg_ahead *a, int slot, size_t *len)
{
	aslot *s = &a->s[slot];
	*len = s->mlen;
	return s->msg;
}

float *psg_ahead_peek(psg_ahead *a, int slot, int *n)
{
	if (!a->threaded)
		return psg_filter_peek(a->s[slot].f, n);
	return psg__fifo_peek(&a->s[slot].q, n);
}

int psg_ahead_consume(psg_ahead *a, int slot, int n)
{
	if (!a->threaded)
		return psg_filter_consume(a->s[slot].f, n);
	return psg__fifo_consume(&a->s[slot].q, n);
}

void psg_ahead_free(psg_ahead *a)
{
	if (!a)
		return;
	if (a->running) {
		psg_link_close_read(a->link);   /* a thread still writing stops */
		pthread_join(a->th, NULL);
	}
	psg_reader_free(a->out);
	psg_writer_free(a->w);
	psg_link_free(a->link);
	for (int i = 0; i < a->n; i++) {
		aslot *s = &a->s[i];
		for (size_t k = 0; k < s->on; k++)
			free(s->ops[(s->oh + k) % s->ocap].x);
		for (int k = 0; k < s->nspare; k++)
			free(s->spare[k].x);
		for (size_t k = 0; k < s->lon; k++)
			free(s->lops[(s->loh + k) % s->locap].x);
		for (int k = 0; k < s->nret; k++)
			free(s->ret[k].x);
		free(s->lops), free(s->m.x), free(s->q.q);
		free(s->ops);
	}
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}
