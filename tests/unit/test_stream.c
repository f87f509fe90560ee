/*
 * test_stream.c -- the stream format: what a writer writes, a reader reads
 * back exactly; truncation, corruption and version mismatches are caught.
 */
#include "internal.h"
#include "tap.h"
#include "wire.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static psg_header *make_header(void)
{
	psg_header *h = psg_header_new();
	psg_channel a = {.label = "C4-M1", .kind = "EEG", .unit = "uV",
		.phys_min = -500, .phys_max = 500, .dig_min = -32768,
		.dig_max = 32767, .spr = 256, .period = PSG_TICKS_PER_SEC};
	psg_channel b = a;
	strcpy(b.label, "Leg L");
	b.spr = 975;            /* 487.5 Hz exactly */
	b.period = 2 * PSG_TICKS_PER_SEC;
	psg_header_add_channel(h, &a);
	psg_header_add_channel(h, &b);
	const char *f[] = {"p2p", "freq"}, *u[] = {"uV", "Hz"};
	psg_header_add_evtype(h, "annotations", 0, NULL, NULL);
	psg_header_add_evtype(h, "slow_waves", 2, f, u);
	psg_header_add_feature(h, "sws", "", "N3 call");
	psg_header_add_feature(h, "swa", "uV^2", "0.5-4 Hz power");
	char *argv[] = {"psg-test", "--x"};
	psg_header_add_history(h, 2, argv);
	psg_header_add_role(h, "wake", "eeg", 0);
	psg_header_add_role(h, "emg", "leg", 1);
	h->subsecond = 3945312;
	strcpy(h->patient, "X F 20-JAN-1998 Née_Ö");
	return h;
}

/* Writes a small stream into a temporary file; returns its fd (rewound). */
static int write_stream(const psg_header *h, int with_end)
{
	char path[] = "/tmp/psgtestXXXXXX";
	int fd = mkstemp(path), st;
	unlink(path);
	psg_writer *w = psg_writer_open_fd(fd, h, &st);
	float x[512];
	for (int i = 0; i < 512; i++)
		x[i] = (float)sin(i * 0.1) * 100.0f + 0.25f;
	psg_block b = {.channel = 0, .t0 = 0, .offset = 0, .n = 256, .x = x};
	psg_write_block(w, &b);
	b.channel = 1, b.n = 487, b.offset = 0;
	psg_write_block(w, &b);
	double v[2] = {120.5, 0.8};
	psg_event e = {.type = 1, .channel = 0, .onset = 12345678,
		.duration = 9000000, .label = "sw", .nvalues = 2, .values = v};
	psg_write_event(w, &e);
	uint32_t fid[2] = {1, 0};
	double fv[2] = {42.0, 1.0};
	psg_epoch ep = {.epoch = 3, .n = 2, .feature = fid, .value = fv};
	psg_write_epoch(w, &ep);
	psg_summary s = {.name = "sws_min", .unit = "min", .value = 61.5};
	psg_write_summary(w, &s);
	float psd[3] = {1.5f, 2.5f, 0.25f};
	psg_array ar = {.name = "spectra", .channel = 1, .row = 7, .x0 = 0,
		.dx = 0.25, .unit = "uV^2/Hz", .n = 3, .v = psd};
	psg_write_array(w, &ar);
	b.channel = 0, b.t0 = 50 * PSG_TICKS_PER_SEC, b.n = 10;  /* a gap */
	psg_write_block(w, &b);
	psg_end end = {.duration = 51 * PSG_TICKS_PER_SEC};
	strcpy(end.sha256, "ab");
	if (with_end)
		psg_writer_finish(w, &end);
	else
		psg_writer_finish(w, &end), ftruncate(fd, lseek(fd, 0, SEEK_CUR) - 5);
	psg_writer_free(w);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void test_roundtrip(void)
{
	psg_header *h = make_header();
	int fd = write_stream(h, 1), st;
	char msg[256];
	psg_reader *r = psg_reader_open_fd(fd, &st, msg, sizeof msg);
	OK(r != NULL, "reader opens a stream (%s)", r ? "" : msg);
	if (!r)
		return;
	const psg_header *g = psg_reader_header(r);
	OK(g->nchannels == 2 && !strcmp(g->channels[1].label, "Leg L"),
	   "channels round-trip");
	OK(psg_channel_rate(&g->channels[1]) == 487.5, "487.5 Hz is exact");
	OK(g->subsecond == 3945312, "sub-second start round-trips");
	OK(!strcmp(g->patient, h->patient), "UTF-8 patient field round-trips");
	OK(g->nevtypes == 2 && g->evtypes[1].nfields == 2 &&
	   !strcmp(g->evtypes[1].unit[1], "Hz"), "event types round-trip");
	OK(g->nfeatures == 2 && !strcmp(g->features[1].unit, "uV^2"),
	   "features round-trip");
	OK(g->nhistory == 1 && !strcmp(g->history[0], "psg-test --x"),
	   "history round-trips");
	OK(g->nroles == 2 && !strcmp(g->roles[1].stage, "emg") &&
	   !strcmp(g->roles[1].role, "leg") && g->roles[1].channel == 1,
	   "channel roles round-trip (stream 1.2)");
	psg_record rec;
	int kinds[9] = {0}, n = 0, same = 1;
	while ((st = psg_reader_next(r, &rec)) > 0 && n < 9) {
		kinds[n++] = rec.kind;
		if (rec.kind == PSG_REC_DATA && rec.block.channel == 1)
			for (int i = 0; i < rec.block.n; i++)
				same &= rec.block.x[i] ==
					(float)sin(i * 0.1) * 100.0f + 0.25f;
		if (rec.kind == PSG_REC_EVENT)
			OK(rec.event.onset == 12345678 &&
			   rec.event.values[0] == 120.5 &&
			   !strcmp(rec.event.label, "sw"), "event fields");
		if (rec.kind == PSG_REC_EPOCH)
			OK(rec.epoch.epoch == 3 && rec.epoch.feature[0] == 1 &&
			   rec.epoch.value[0] == 42.0, "epoch fields");
		if (rec.kind == PSG_REC_SUMMARY)
			OK(!strcmp(rec.summary.name, "sws_min") &&
			   rec.summary.value == 61.5, "summary fields");
		if (rec.kind == PSG_REC_ARRAY)
			OK(!strcmp(rec.array.name, "spectra") &&
			   rec.array.channel == 1 && rec.array.row == 7 &&
			   rec.array.dx == 0.25 && rec.array.n == 3 &&
			   rec.array.v[1] == 2.5f &&
			   !strcmp(rec.array.unit, "uV^2/Hz"),
			   "array record (1.1) fields");
		if (rec.kind == PSG_REC_DATA && rec.block.t0 > 0)
			OK(rec.block.t0 == 50 * PSG_TICKS_PER_SEC,
			   "a gap's block keeps its start time");
		if (rec.kind == PSG_REC_END)
			OK(!strcmp(rec.end.sha256, "ab") && rec.end.nrecords == 7,
			   "end record counts the records");
	}
	OK(same, "samples are bit-exact");
	OK(n == 8 && kinds[7] == PSG_REC_END, "eight records, END last");
	OK(psg_reader_next(r, &rec) == 0, "nothing after END");
	psg_reader_free(r);
	close(fd);
	psg_header_free(h);
}

static void test_truncated(void)
{
	psg_header *h = make_header();
	int fd = write_stream(h, 0), st;
	char msg[256];
	psg_record rec;
	psg_reader *r = psg_reader_open_fd(fd, &st, msg, sizeof msg);
	while ((st = psg_reader_next(r, &rec)) > 0)
		;
	OK(st == PSG_ERR_TRUNCATED, "a stream cut short is reported (%s)",
	   psg_reader_errmsg(r));
	psg_reader_free(r);
	close(fd);
	psg_header_free(h);
}

static void test_bad_magic(void)
{
	char path[] = "/tmp/psgtestXXXXXX";
	int fd = mkstemp(path), st;
	unlink(path);
	write(fd, "0       this is EDF-ish garbage", 31);
	lseek(fd, 0, SEEK_SET);
	psg_reader *r = psg_reader_open_fd(fd, &st, NULL, 0);
	OK(!r && st == PSG_ERR_FORMAT, "bad magic is a format error");
	close(fd);
	char path2[] = "/tmp/psgtestXXXXXX";
	fd = mkstemp(path2);
	unlink(path2);
	write(fd, "\x89PSG\r\n\x1a\n\x02\x00\x00\x00", 12);
	lseek(fd, 0, SEEK_SET);
	char msg[128];
	r = psg_reader_open_fd(fd, &st, msg, sizeof msg);
	OK(!r && st == PSG_ERR_VERSION && strstr(msg, "2.0"),
	   "a newer major version is refused (%s)", msg);
	close(fd);
}

static void test_writer_checks(void)
{
	psg_header *h = make_header();
	int fd = open("/dev/null", O_WRONLY), st;
	psg_writer *w = psg_writer_open_fd(fd, h, &st);
	float x = 0;
	psg_block b = {.channel = 2, .n = 1, .x = &x};
	OK(psg_write_block(w, &b) == PSG_ERR_ARG, "unknown channel refused");
	double v = 1;
	psg_event e = {.type = 1, .channel = -1, .nvalues = 1, .values = &v,
		.label = ""};
	OK(psg_write_event(w, &e) == PSG_ERR_ARG,
	   "event with the wrong number of fields refused");
	psg_writer_free(w);
	close(fd);
	psg_header_free(h);
}

/* psg_clock_time against psg_sample_time: odd rates, runs across the
   spr wrap, jumps back and forth, other channels, and indices whose
   times saturate. */
static void test_clock(void)
{
	const psg_channel cs[] = {
		{.spr = 975, .period = 2 * PSG_TICKS_PER_SEC},
		{.spr = 256, .period = PSG_TICKS_PER_SEC},
		{.spr = 3, .period = 7},
		{.spr = 1, .period = 30 * PSG_TICKS_PER_SEC},
		{.spr = 7, .period = INT64_MAX / 4}};
	int bad = 0;
	for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
		psg_clock k = {0};
		const psg_channel *c = &cs[i];
		int64_t t0 = (int64_t)i * 12345 - 7;
		for (int64_t idx = 0; idx < 5000; idx++)
			bad += psg_clock_time(&k, c, t0, idx) !=
			       psg_sample_time(c, t0, idx);
		int64_t jumps[] = {17, 17, 16, 4999, 5000, 0, 1, 100000, 2};
		for (size_t j = 0; j < sizeof jumps / sizeof *jumps; j++)
			bad += psg_clock_time(&k, c, t0, jumps[j]) !=
			       psg_sample_time(c, t0, jumps[j]);
		bad += psg_clock_time(&k, &cs[0], 5, 3) !=
		       psg_sample_time(&cs[0], 5, 3);
	}
	OK(!bad, "psg_clock_time equals psg_sample_time, step by step and "
	   "after seeks (%d differ)", bad);
	psg_clock k = {0};
	const psg_channel *c = &cs[4];
	for (int64_t idx = 20; idx < 40; idx++)
		bad += psg_clock_time(&k, c, INT64_MAX - 100, idx) !=
		       psg_sample_time(c, INT64_MAX - 100, idx);
	for (int64_t idx = 0; idx < 40; idx++)
		bad += psg_clock_time(&k, c, INT64_MIN + 5, -idx) !=
		       psg_sample_time(c, INT64_MIN + 5, -idx);
	OK(!bad, "psg_clock_time saturates as psg_sample_time does");
	/* psg_clock_times: runs of every length from 1 to 600, one after
	   the other (stepping) or jumping, and into saturation. */
	int64_t run[600];
	for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
		psg_clock kr = {0};
		int64_t t0s[] = {(int64_t)i * 12345 - 7, INT64_MAX - 100};
		for (int z = 0; z < 2; z++) {
			int64_t idx = z ? 20 : 0;
			for (size_t n = 1; n <= 600; n += n < 20 ? 1 : 37) {
				psg_clock_times(&kr, &cs[i], t0s[z], idx, n, run);
				for (size_t j = 0; j < n; j++)
					bad += run[j] != psg_sample_time(&cs[i],
						t0s[z], idx + (int64_t)j);
				idx += n % 3 ? (int64_t)n : (int64_t)n / 2;
			}
		}
	}
	OK(!bad, "psg_clock_times equals psg_sample_time over runs, jumps "
	   "and saturation (%d differ)", bad);
}

static void test_helpers(void)
{
	psg_channel c = {.spr = 975, .period = 2 * PSG_TICKS_PER_SEC};
	OK(psg_sample_time(&c, 0, 975) == 2 * PSG_TICKS_PER_SEC,
	   "sample 975 at 487.5 Hz is at 2 s");
	OK(psg_sample_time(&c, 10, 1) == 10 + 20513, "sample times round");
	int64_t big = (int64_t)7 * 86400 * 975 / 2;   /* a week */
	OK(psg_sample_time(&c, 0, big) == (int64_t)7 * 86400 * PSG_TICKS_PER_SEC,
	   "a week at 487.5 Hz does not overflow");
	psg_header *h = make_header();
	int idx[4];
	char bad[32];
	OK(psg_select_channels(h, "Leg*", idx, 4, bad, sizeof bad) == 1 &&
	   idx[0] == 1, "glob selects");
	OK(psg_select_channels(h, "1,C4-M1", idx, 4, bad, sizeof bad) == 2 &&
	   idx[0] == 0 && idx[1] == 1, "index and label select, file order");
	OK(psg_select_channels(h, "Fz", idx, 4, bad, sizeof bad) ==
	   PSG_ERR_NOTFOUND && !strcmp(bad, "Fz"), "unknown label named");
	h->duration = 95 * PSG_TICKS_PER_SEC;
	OK(psg_header_nepochs(h) == 3, "three complete 30-s epochs in 95 s");
	h->year = 2009, h->month = 12, h->day = 10, h->hour = 12;
	h->minute = 44, h->second = 2, h->subsecond = 0;
	OK(psg_header_start_ticks(h) == INT64_C(1260449042) * PSG_TICKS_PER_SEC,
	   "start date in ticks since 1970");
	OK(!strcmp(psg_guess_kind("EMG Chin", "", ""), "EMG") &&
	   !strcmp(psg_guess_kind("F4-M1", "", ""), "EEG") &&
	   !strcmp(psg_guess_kind("SpO2", "", ""), "SPO2"), "kinds guessed");
	psg_header_free(h);
}

static void test_sha256(void)
{
	char path[] = "/tmp/psgtestXXXXXX", hex[65];
	int fd = mkstemp(path);
	write(fd, "abc", 3);
	close(fd);
	psg_sha256_file(path, hex);
	OK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223"
			"b00361a396177a9cb410ff61f20015ad"), "SHA-256 of abc");
	fd = open(path, O_WRONLY | O_TRUNC);
	char m[1000];
	memset(m, 'a', sizeof m);
	for (int i = 0; i < 1000; i++)
		write(fd, m, sizeof m);
	close(fd);
	psg_sha256_file(path, hex);
	OK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
			"f1809a48a497200e046d39ccc7112cd0"),
	   "SHA-256 of a million a's");
	unlink(path);
}

typedef struct got {
	int n;
	int64_t onset[4], dur[4];
	char text[4][32];
} got;

static void on_tal(void *ctx, int64_t onset, int64_t dur, const char *t)
{
	got *g = ctx;
	if (g->n < 4) {
		g->onset[g->n] = onset, g->dur[g->n] = dur;
		snprintf(g->text[g->n], 32, "%s", t);
	}
	g->n++;
}

static void test_tal(void)
{
	static const unsigned char tal[] =
		"+12.5\x14\x14\0+13.25\x15" "0.5\x14Spindle\x14" "Arousal\x14\0"
		"-0.1\x14" "x\x14\0\0\0";
	got g = {0};
	int64_t onset;
	int st = psg__parse_tal(tal, sizeof tal - 1, 1, &onset, on_tal, &g);
	OK(st == 0 && onset == 125000000, "record onset from the first TAL");
	OK(g.n == 3 && g.onset[0] == 132500000 && g.dur[0] == 5000000 &&
	   !strcmp(g.text[1], "Arousal") && g.onset[2] == -1000000 &&
	   g.dur[2] == -1, "annotations with durations, several texts");
	OK(psg__parse_tal((const unsigned char *)"12\x14\x14", 5, 1, &onset,
			  NULL, NULL) == -1, "a TAL without a sign is malformed");
	int64_t t;
	OK(psg__parse_seconds("+0.0000001", 10, &t) == 0 && t == 1 &&
	   psg__parse_seconds("+1.", 3, &t) == 0 && t == 10000000 &&
	   psg__parse_seconds("+", 1, &t) == -1, "seconds to ticks");
}

/* ---- stream 1.3: records padded to 4 bytes, samples read in place ---- */

enum { NBIG = 1200, EVERY = 97 };

/* About 1.3 MB, so that one record straddles the reader's 1-MiB reads; an
   event with a 3-byte label every EVERY blocks would misalign what follows
   without the padding. */
static int write_big(const psg_header *h)
{
	char path[] = "/tmp/psgtestXXXXXX";
	int fd = mkstemp(path), st;
	unlink(path);
	psg_writer *w = psg_writer_open_fd(fd, h, &st);
	float x[256];
	double v[2] = {1, 2};
	psg_event e = {.type = 1, .channel = 0, .label = "odd", .nvalues = 2,
		.values = v};
	for (int k = 0; k < NBIG; k++) {
		for (int i = 0; i < 256; i++)
			x[i] = (float)(k * 1000 + i);
		psg_block b = {.channel = 0, .t0 = k * PSG_TICKS_PER_SEC,
			.offset = 0, .n = 256, .x = x};
		psg_write_block(w, &b);
		if (k % EVERY == 0)
			e.onset = b.t0, psg_write_event(w, &e);
	}
	psg_end end = {.duration = NBIG * PSG_TICKS_PER_SEC};
	psg_writer_finish(w, &end);
	psg_writer_free(w);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static unsigned char *slurp(int fd, size_t *n)
{
	off_t len = lseek(fd, 0, SEEK_END);
	unsigned char *p = malloc((size_t)len + 1);
	*n = (size_t)len;
	if (p && pread(fd, p, *n, 0) != len)
		*n = 0;
	lseek(fd, 0, SEEK_SET);
	return p;
}

/* Every record's length a multiple of 4, so every record starts aligned. */
static int all_padded(const unsigned char *p, size_t n)
{
	size_t pos = PSG_MAGIC_LEN + 4;
	while (pos + 8 <= n) {
		uint32_t len = psg__get_u32(p + pos + 4);
		if (len % 4)
			return 0;
		pos += 8 + len;
	}
	return pos == n;
}

/* Reads the big stream back; returns how many blocks had their samples
   intact, counts the events and the blocks whose samples lay at the same
   address as the previous block's (a copy into one buffer). */
static int read_big(int fd, int *events, int *reused)
{
	int st, good = 0, k = 0;
	char msg[256];
	psg_record rec;
	const float *last = NULL;
	psg_reader *r = psg_reader_open_fd(fd, &st, msg, sizeof msg);
	*events = *reused = 0;
	while (r && (st = psg_reader_next(r, &rec)) > 0 &&
	       rec.kind != PSG_REC_END) {
		if (rec.kind == PSG_REC_EVENT) {
			*events += !strcmp(rec.event.label, "odd");
			continue;
		}
		if (rec.kind != PSG_REC_DATA)
			continue;
		int same = rec.block.n == 256;
		for (int i = 0; same && i < 256; i++)
			same = rec.block.x[i] == (float)(k * 1000 + i);
		good += same, k++;
		*reused += rec.block.x == last;
		last = rec.block.x;
	}
	if (st < 0)
		good = -1;
	psg_reader_free(r);
	return good;
}

/* The same stream as an older (1.2) writer could have left it: one stray
   byte after the header's fields, so every record after it is misaligned. */
static int misaligned_copy(const unsigned char *p, size_t n)
{
	char path[] = "/tmp/psgtestXXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	size_t head = PSG_MAGIC_LEN + 4;
	uint32_t len = psg__get_u32(p + head + 4);
	unsigned char lenb[4], zero = 0;
	psg__put_u32(lenb, len + 1);
	if (write(fd, p, head + 4) < 0 || write(fd, lenb, 4) < 0 ||
	    write(fd, p + head + 8, len) < 0 || write(fd, &zero, 1) < 0 ||
	    write(fd, p + head + 8 + len, n - head - 8 - len) < 0)
		return -1;
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static void test_padding(void)
{
	psg_header *h = make_header();
	int fd = write_big(h), events, reused;
	size_t n;
	unsigned char *raw = slurp(fd, &n);
	OK(raw && n > (1u << 20) && all_padded(raw, n),
	   "every record is padded to a multiple of 4 bytes (%zu bytes)", n);
	int good = read_big(fd, &events, &reused);
	OK(good == NBIG && events == (NBIG + EVERY - 1) / EVERY,
	   "samples and events read back across a refill (%d blocks)", good);
	OK(reused == 0, "samples are read in place, not copied into one "
	   "buffer (%d of %d blocks at the previous one's address)", reused,
	   NBIG);
	close(fd);
	fd = raw ? misaligned_copy(raw, n) : -1;
	good = fd < 0 ? -1 : read_big(fd, &events, &reused);
	OK(good == NBIG && events == (NBIG + EVERY - 1) / EVERY,
	   "an unpadded, misaligned stream reads the same (%d blocks)", good);
	if (fd >= 0)
		close(fd);
	free(raw);
	psg_header_free(h);
}

int main(void)
{
	test_roundtrip();
	test_truncated();
	test_padding();
	test_bad_magic();
	test_writer_checks();
	test_helpers();
	test_clock();
	test_sha256();
	test_tal();
	return TAP_DONE();
}
