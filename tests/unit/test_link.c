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

/* OK() evaluates its condition twice: the calls come first. */
static void buffers_swap(void)
{
	psg_link *l = psg_link_new();
	unsigned char *a = malloc(PSG__OUTBUF), *got = NULL;
	memset(a, 7, 100);
	unsigned char *sent = a;
	int put = psg__link_put(l, &a, 100);
	OK(put == 0 && a && a != sent,
	   "put hands the buffer over and gives back another");
	ssize_t n = psg__link_get(l, &got);
	OK(n == 100 && got == sent && got[99] == 7,
	   "get takes that very buffer, not a copy");
	psg_link_close_write(l);
	n = psg__link_get(l, &got);
	OK(n == 0 && !got, "after the writer's end: the end of input");
	psg_link_close_read(l);
	errno = 0;
	put = psg__link_put(l, &a, 1);
	int e = errno;
	OK(put == -1 && e == EPIPE, "after the reader's end: EPIPE");
	free(a);
	psg_link_free(l);
	psg_link_free(NULL);
}

int main(void)
{
	whole_stream();
	truncated();
	reader_gone();
	buffers_swap();
	return TAP_DONE();
}
