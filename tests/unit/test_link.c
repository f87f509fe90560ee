/*
 * test_link.c -- psg_link (pipeline/link.c): a stream written on one
 * thread is read back whole on another, through more buffers than the
 * link holds; a closed writer's end is the reader's end of input (a
 * truncated stream if END never came); a closed reader's end fails the
 * writer with EPIPE instead of blocking it.
 */
#include "internal.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { NBLOCKS = 600, NSAMP = 4096 };   /* ~10 MB: five times the link */

static psg_header *make_header(void)
{
	psg_header *h = psg_header_new();
	psg_channel a = {.label = "C4-M1", .kind = "EEG", .unit = "uV",
		.phys_min = -500, .phys_max = 500, .dig_min = -32768,
		.dig_max = 32767, .spr = 256, .period = PSG_TICKS_PER_SEC};
	psg_header_add_channel(h, &a);
	return h;
}

typedef struct writer_job {
	psg_link *link;
	int nblocks, finish, status;
} writer_job;

static void *write_stream(void *arg)
{
	writer_job *j = arg;
	psg_header *h = make_header();
	static float x[NSAMP];
	psg_writer *w = psg_writer_open_link(j->link, h, &j->status);
	for (int b = 0; w && !j->status && b < j->nblocks; b++) {
		for (int i = 0; i < NSAMP; i++)
			x[i] = (float)(b * NSAMP + i);
		psg_block blk = {.channel = 0, .offset = (int64_t)b * NSAMP,
				 .n = NSAMP, .x = x};
		j->status = psg_write_block(w, &blk);
	}
	if (w && !j->status && j->finish) {
		psg_end end = {.duration = 0};
		j->status = psg_writer_finish(w, &end);
	} else if (w && !j->status)
		j->status = psg_writer_flush(w);
	psg_writer_free(w);
	psg_header_free(h);
	psg_link_close_write(j->link);
	return NULL;
}

/* Reads the stream: blocks whose samples count on, or -1 if one does
   not; *end the reader's last status (0 after END). */
static long read_stream(psg_link *l, int *end)
{
	int st;
	char msg[256];
	psg_reader *r = psg_reader_open_link(l, &st, msg, sizeof msg);
	long n = 0, want = 0;
	psg_record rec;
	while (r && (st = psg_reader_next(r, &rec)) > 0) {
		if (rec.kind != PSG_REC_DATA)
			continue;
		for (int i = 0; i < rec.block.n; i++)
			if (rec.block.x[i] != (float)want++)
				n = -1;
		if (n >= 0)
			n++;
	}
	*end = st;
	psg_reader_free(r);
	return n;
}

static void whole_stream(void)
{
	writer_job j = {.link = psg_link_new(), .nblocks = NBLOCKS, .finish = 1};
	pthread_t t;
	pthread_create(&t, NULL, write_stream, &j);
	int end;
	long n = read_stream(j.link, &end);
	pthread_join(t, NULL);
	OK(n == NBLOCKS, "all %d blocks read back in order (%ld)", NBLOCKS, n);
	OK(end == 0, "...then the END record (status %d)", end);
	OK(j.status == PSG_OK, "the writer never failed (%d)", j.status);
	psg_link_free(j.link);
}

static void truncated(void)
{
	writer_job j = {.link = psg_link_new(), .nblocks = 10, .finish = 0};
	pthread_t t;
	pthread_create(&t, NULL, write_stream, &j);
	int end;
	long n = read_stream(j.link, &end);
	pthread_join(t, NULL);
	OK(n == 10, "a writer closed before END: its 10 blocks read (%ld)", n);
	OK(end == PSG_ERR_TRUNCATED, "...then a truncated stream (status %d)",
	   end);
	psg_link_free(j.link);
}

static void reader_gone(void)
{
	writer_job j = {.link = psg_link_new(), .nblocks = NBLOCKS, .finish = 1};
	pthread_t t;
	psg_link_close_read(j.link);
	pthread_create(&t, NULL, write_stream, &j);
	pthread_join(t, NULL);   /* would hang if a write blocked */
	OK(j.status == PSG_ERR_IO, "no reader: the writer fails (status %d)",
	   j.status);
	psg_link_free(j.link);
}

/* A stage between two links that forwards every record unchanged: what
   its writer hands on should be the slices its reader got, not copies.
   x[k] is where block k's samples were when the relay read them. */
typedef struct relay_job {
	psg_link *in, *out;
	const float **x;
	int status;
} relay_job;

static void *relay(void *arg)
{
	relay_job *j = arg;
	char msg[256];
	psg_reader *r = psg_reader_open_link(j->in, &j->status, msg,
					     sizeof msg);
	psg_writer *w = r ? psg_writer_open_link(j->out, psg_reader_header(r),
						 &j->status) : NULL;
	psg_record rec;
	int st, k = 0;
	while (w && !j->status && (st = psg_reader_next(r, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			j->status = psg_writer_finish(w, &rec.end);
			break;
		}
		if (rec.kind == PSG_REC_DATA && k < NBLOCKS)
			j->x[k++] = rec.block.x;
		j->status = psg_write_record(w, &rec);
	}
	psg_writer_free(w);
	psg_reader_free(r);
	psg_link_close_write(j->out);
	psg_link_close_read(j->in);
	return NULL;
}

static void forwarded(void)
{
	static const float *xr[NBLOCKS], *xf[NBLOCKS];
	writer_job j = {.link = psg_link_new(), .nblocks = NBLOCKS, .finish = 1};
	relay_job rj = {.in = j.link, .out = psg_link_new(), .x = xr};
	pthread_t t, u;
	pthread_create(&t, NULL, write_stream, &j);
	pthread_create(&u, NULL, relay, &rj);
	int st, same = 0, k = 0, good = 1;
	char msg[256];
	psg_reader *r = psg_reader_open_link(rj.out, &st, msg, sizeof msg);
	psg_record rec;
	while (r && (st = psg_reader_next(r, &rec)) > 0 &&
	       rec.kind != PSG_REC_END) {
		if (rec.kind != PSG_REC_DATA || k >= NBLOCKS)
			continue;
		xf[k] = rec.block.x;
		for (int i = 0; i < rec.block.n; i++)
			good &= rec.block.x[i] == (float)(k * NSAMP + i);
		k++;
	}
	psg_reader_free(r);
	psg_link_close_read(rj.out);
	pthread_join(t, NULL);
	pthread_join(u, NULL);
	for (int i = 0; i < k; i++)
		same += xf[i] == xr[i];
	OK(k == NBLOCKS && good && st > 0 && j.status == PSG_OK &&
	   rj.status == PSG_OK, "through a relay: %d blocks, intact, then END",
	   k);
	OK(same == NBLOCKS, "the relay lent its input on: %d of %d blocks read "
	   "where it had read them", same, NBLOCKS);
	OK(psg__buf_live() <= 3 * 3, "buffers that exist: %d",
	   psg__buf_live());
	psg_link_free(j.link);
	psg_link_free(rj.out);
}

/* OK() evaluates its condition twice: the calls come first. */
static void slices(void)
{
	psg_link *l = psg_link_new();
	unsigned char *a = psg__buf_new();
	psg__slice got;
	memset(a, 7, 100);
	psg__buf_ref(a);              /* the slice's own reference */
	int put = psg__link_put(l, &(psg__slice){a, 10, 90}, 1);
	int n = psg__link_get(l, &got);
	OK(put == 0 && n == 1 && got.buf == a && got.off == 10 &&
	   got.len == 90 && got.buf[got.off + 89] == 7,
	   "get takes the very slice put, not a copy");
	psg__buf_unref(got.buf);
	psg_link_close_write(l);
	n = psg__link_get(l, &got);
	OK(n == 0 && !got.buf, "after the writer's end: the end of input");
	psg_link_close_read(l);
	errno = 0;
	psg__buf_ref(a);
	put = psg__link_put(l, &(psg__slice){a, 0, 1}, 1);
	int e = errno;
	OK(put == -1 && e == EPIPE, "after the reader's end: EPIPE");
	psg__buf_unref(a);
	psg_link_free(l);
	psg_link_free(NULL);
}

int main(void)
{
	whole_stream();
	truncated();
	reader_gone();
	forwarded();
	slices();
	return TAP_DONE();
}
