/*
 * oraclewake -- a stand-in for psg-wake in tests: passes a stream through
 * and adds what psg-wake will add, taken from psg-synth's ground truth:
 * the epoch feature `wake` (1 W, 0 sleep, -1 ?) from PREFIX.epochs.tsv, and
 * events of types `arousals` and `awakenings` (without psg-wake's fields)
 * from the `arousal` and `awakening` rows of PREFIX.events.tsv.
 *
 *   oraclewake PREFIX < in > out
 *
 * The additions come first, before the input's records, so that a later
 * stage sees them whatever its look-ahead.
 */
#include "psg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *m)
{
	fprintf(stderr, "oraclewake: %s\n", m);
	exit(2);
}

/* PREFIX.SUFFIX opened, its header line read. */
static FILE *open_tsv(const char *prefix, const char *suffix)
{
	char path[1024], line[512];
	snprintf(path, sizeof path, "%s.%s", prefix, suffix);
	FILE *fp = fopen(path, "r");
	if (!fp || !fgets(line, sizeof line, fp))
		die("cannot read a truth TSV");
	return fp;
}

static void epochs(psg_writer *w, const char *prefix, int f)
{
	char line[512];
	FILE *fp = open_tsv(prefix, "epochs.tsv");
	while (fgets(line, sizeof line, fp)) {
		long k;
		double on, d;
		char st[16];
		if (sscanf(line, "%ld %lf %lf %15s", &k, &on, &d, st) != 4)
			die("bad epochs line");
		uint32_t fid = (uint32_t)f;
		double v = !strcmp(st, "W") ? 1 : !strcmp(st, "?") ? -1 : 0;
		psg_epoch e = {.epoch = k, .n = 1, .feature = &fid, .value = &v};
		if (psg_write_epoch(w, &e))
			die("write");
	}
	fclose(fp);
}

/* The truth rows of one kind as events of a type. */
static void truth_events(psg_writer *w, const char *prefix, int type,
			 const char *kind)
{
	size_t k = strlen(kind);
	char line[512];
	FILE *fp = open_tsv(prefix, "events.tsv");
	while (fgets(line, sizeof line, fp)) {
		double on, d;
		char *tab1 = strchr(line, '\t'), *tab2, *tab3;
		if (!tab1 || !(tab2 = strchr(tab1 + 1, '\t')) ||
		    !(tab3 = strchr(tab2 + 1, '\t')))
			continue;
		if (strncmp(tab3 + 1, kind, k) || tab3[1 + k] != '\t')
			continue;
		on = atof(line), d = atof(tab1 + 1);
		psg_event e = {.type = type, .channel = -1,
			.onset = (int64_t)(on * 1e7 + 0.5),
			.duration = (int64_t)(d * 1e7 + 0.5), .label = kind};
		if (psg_write_event(w, &e))
			die("write");
	}
	fclose(fp);
}

int main(int argc, char **argv)
{
	int st;
	char msg[256];
	psg_record rec;
	if (argc != 2)
		die("usage: oraclewake PREFIX < in > out");
	psg_reader *r = psg_reader_open_fd(0, &st, msg, sizeof msg);
	if (!r)
		die(msg);
	psg_header *h = psg_header_new();
	if (!h || psg_header_copy(h, psg_reader_header(r)) ||
	    psg_header_add_history(h, argc, argv) < 0)
		die("out of memory");
	int f = psg_header_add_feature(h, "wake", "", "1 wake, 0 sleep (truth)");
	int t = psg_header_add_evtype(h, "arousals", 0, NULL, NULL);
	int aw = psg_header_add_evtype(h, "awakenings", 0, NULL, NULL);
	if (f < 0 || t < 0 || aw < 0)
		die("cannot declare wake/arousals/awakenings");
	psg_writer *w = psg_writer_open_fd(1, h, &st);
	if (!w)
		die("cannot write");
	epochs(w, argv[1], f);
	truth_events(w, argv[1], t, "arousal");
	truth_events(w, argv[1], aw, "awakening");
	while ((st = psg_reader_next(r, &rec)) > 0) {
		if (rec.kind == PSG_REC_END) {
			if (psg_writer_finish(w, &rec.end))
				die("write");
			break;
		}
		if (psg_write_record(w, &rec))
			die("write");
	}
	if (st < 0)
		die(psg_reader_errmsg(r));
	psg_writer_free(w);
	psg_header_free(h);
	psg_reader_free(r);
	return 0;
}
