/*
 * test_ahead.c -- psg_ahead (pipeline/ahead.c): with its filters on a
 * thread of their own, the consumer gets every record unchanged and, call
 * for call, exactly the samples the same filters give run in line
 * (segment breaks and END included); calls out of the thread's order fail
 * with PSG_ERR_ARG; a stream that ends early fails with the thread's
 * reason, and the records before it still come.
 */
#include "internal.h"
#include "tap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NBLOCKS = 400, SPR = 512 };

/* Two 512-Hz channels, 400 one-second blocks each, a gap (a new segment)
   at block 250 and an event every 50 blocks: into a temporary file. */
static int make_stream(char *path, int truncate_at)
{
	psg_header *h = psg_header_new();
	for (int c = 0; c < 2; c++) {
		psg_channel ch = {.kind = "EMG", .unit = "uV",
			.phys_min = -500, .phys_max = 500, .dig_min = -32768,
			.dig_max = 32767, .spr = SPR,
			.period = PSG_TICKS_PER_SEC};
		snprintf(ch.label, sizeof ch.label, "Leg %c", c ? 'R' : 'L');
		psg_header_add_channel(h, &ch);
	}
	psg_header_add_evtype(h, "marks", 0, NULL, NULL);
	int fd = mkstemp(path), st;
	psg_writer *w = fd >= 0 ? psg_writer_open_fd(fd, h, &st) : NULL;
	static float x[SPR];
	for (int b = 0; w && b < NBLOCKS; b++) {
		int64_t t0 = b < 250 ? 0 : 300 * PSG_TICKS_PER_SEC;
		int64_t off = (int64_t)(b < 250 ? b : b - 250) * SPR;
		for (int c = 0; c < 2; c++) {
			for (int i = 0; i < SPR; i++)
				x[i] = (float)(40 * sin(0.37 * (b * SPR + i) *
							(c + 1)) + c);
			psg_block blk = {c, t0, off, SPR, x};
			psg_write_block(w, &blk);
		}
		if (b % 50 == 0) {
			psg_event e = {.type = 0, .channel = -1,
				.onset = (int64_t)b * PSG_TICKS_PER_SEC,
				.duration = -1, .label = "mark"};
			psg_write_event(w, &e);
		}
	}
	psg_end end = {.duration = 700 * (int64_t)PSG_TICKS_PER_SEC};
	if (w)
		psg_writer_finish(w, &end);
	psg_writer_free(w);
	psg_header_free(h);
	if (fd >= 0 && truncate_at > 0 && ftruncate(fd, truncate_at))
		return -1;
	if (fd >= 0)
		close(fd);
	return w ? 0 : -1;
}

static psg_filter *band(void)
{
	psg_fir_spec s = {PSG_FIR_BANDPASS, 10, 100, 0, 0, 0};
	double *taps;
	int n, st;
	char msg[128];
	if (psg_fir_design(&s, SPR, &taps, &n, msg, sizeof msg))
		return NULL;
	psg_filter *f = psg_filter_new(taps, n, &st);
	free(taps);
	return f;
}

typedef struct run {
	float *y;                   /* every output, in the order taken */
	size_t ny, cap;
	long records, events, data;
	int status;                 /* the reader's last */
	int failed;                 /* psg_ahead_error's */
	char msg[256];
} run;

static void take_all(psg_ahead *a, int slot, run *r)
{
	int n;
	float *y = psg_ahead_peek(a, slot, &n);
	if (!n)
		return;
	if (r->ny + (size_t)n > r->cap) {
		r->cap = 2 * (r->ny + (size_t)n);
		r->y = realloc(r->y, r->cap * sizeof *r->y);
	}
	memcpy(r->y + r->ny, y, (size_t)n * sizeof *y);
	r->ny += (size_t)n;
	psg_ahead_consume(a, slot, n);
}

/* Reads the file through psg_ahead with `threads', calling its slots as
   psg-emg does (the contract in psg.h). */
static void consume(const char *path, int threads, run *r)
{
	int st;
	char msg[256];
	psg_open_opts o = {0};
	psg_reader *in = psg_reader_open(path, &o, &st, msg, sizeof msg);
	psg_filter *f[2] = {band(), band()};
	psg_ahead *a = psg_ahead_new(in, threads, &st);
	int slot[2], started[2] = {0, 0};
	int64_t t0[2] = {0, 0}, next[2] = {0, 0};
	for (int c = 0; c < 2; c++)
		slot[c] = psg_ahead_add(a, c, f[c]);
	memset(r, 0, sizeof *r);
	if (!in || psg_ahead_start(a, msg, sizeof msg)) {
		r->status = -100;
		goto out;
	}
	psg_reader *rd = psg_ahead_reader(a);
	psg_record rec;
	while ((st = psg_reader_next(rd, &rec)) > 0) {
		r->records++;
		if (rec.kind == PSG_REC_END) {
			for (int c = 0; c < 2; c++)
				if (started[c]) {
					psg_ahead_finish(a, slot[c]);
					take_all(a, slot[c], r);
				}
			st = 0;         /* END */
			break;
		}
		r->events += rec.kind == PSG_REC_EVENT;
		if (rec.kind != PSG_REC_DATA || rec.block.n <= 0)
			continue;
		r->data++;
		const psg_block *b = &rec.block;
		int c = b->channel;
		if (started[c] && (b->t0 != t0[c] || b->offset != next[c])) {
			psg_ahead_finish(a, slot[c]);
			take_all(a, slot[c], r);
		}
		started[c] = 1, t0[c] = b->t0, next[c] = b->offset + b->n;
		if (psg_ahead_push(a, slot[c], b))
			r->status = -101;
		take_all(a, slot[c], r);
	}
	if (!r->status)
		r->status = st;
	const char *m;
	r->failed = psg_ahead_error(a, &m);
	snprintf(r->msg, sizeof r->msg, "%s", m);
out:
	psg_ahead_free(a);
	psg_filter_free(f[0]);
	psg_filter_free(f[1]);
	psg_reader_free(in);
}

static void same_outputs(const char *path)
{
	run one, two;
	consume(path, 1, &one);
	consume(path, 2, &two);
	OK(one.status == 0 && two.status == 0,
	   "both read the stream to its END (%d, %d)", one.status,
	   two.status);
	OK(one.records == two.records && one.data == 2 * NBLOCKS &&
	   two.data == one.data && two.events == 8,
	   "every record comes through the thread: %ld records, %ld blocks, "
	   "%ld events", two.records, two.data, two.events);
	OK(one.ny == (size_t)2 * NBLOCKS * SPR && two.ny == one.ny &&
	   !memcmp(one.y, two.y, one.ny * sizeof *one.y),
	   "the filters' outputs, call for call, are those run in line, "
	   "bit for bit (%zu samples, a segment break and END included)",
	   two.ny);
	free(one.y), free(two.y);
}

/* A finish where the thread pushed: the calls do not follow it. */
static void wrong_order(const char *path)
{
	int st;
	char msg[256];
	psg_open_opts o = {0};
	psg_reader *in = psg_reader_open(path, &o, &st, msg, sizeof msg);
	psg_filter *f = band();
	psg_ahead *a = psg_ahead_new(in, 2, &st);
	int s = psg_ahead_add(a, 0, f);
	psg_ahead_start(a, msg, sizeof msg);
	psg_record rec;
	int got = 1;
	while ((st = psg_reader_next(psg_ahead_reader(a), &rec)) > 0 &&
	       rec.kind != PSG_REC_DATA)
		;
	if (st > 0)
		got = psg_ahead_finish(a, s);
	OK(got == PSG_ERR_ARG, "a finish where the thread pushed fails "
	   "with PSG_ERR_ARG (%d)", got);
	OK(psg_ahead_add(a, 1, f) == PSG_ERR_ARG,
	   "no slot is added once the thread runs");
	/* Drain to END: free joins a thread that has finished. */
	while (psg_reader_next(psg_ahead_reader(a), &rec) > 0 &&
	       rec.kind != PSG_REC_END)
		;
	psg_ahead_free(a);
	psg_filter_free(f);
	psg_reader_free(in);
}

static void truncated(void)
{
	char path[] = "/tmp/test_ahead_cut.XXXXXX";
	if (make_stream(path, 1 << 20)) {
		OK(0, "make a truncated stream");
		return;
	}
	run r;
	consume(path, 2, &r);
	OK(r.status < 0 && r.failed == PSG_ERR_TRUNCATED &&
	   strstr(r.msg, "truncated"),
	   "a stream cut short fails with the thread's reason: %d '%s'",
	   r.failed, r.msg);
	OK(r.data > 100 && r.data < 2 * NBLOCKS,
	   "the records before the cut still come (%ld blocks)", r.data);
	free(r.y);
	unlink(path);
}

int main(void)
{
	char path[] = "/tmp/test_ahead.XXXXXX";
	if (make_stream(path, 0)) {
		OK(0, "make a stream");
		return TAP_DONE();
	}
	same_outputs(path);
	wrong_order(path);
	unlink(path);
	truncated();
	return TAP_DONE();
}
