/*
 * psg-info -- what a recording or a stream holds: channels, rates, units,
 * duration, continuous segments and gaps, annotations by label, events by
 * type, epochs.  Text for people, --json for scripts.
 *
 * Memory: per channel a few counters; the lists of segments and distinct
 * labels are capped (PSG_INFO_MAX), with totals still exact.
 */
#include "stage.h"

#include <getopt.h>
#include <inttypes.h>

#define INFO_MAX 10000

typedef struct seg {
	int64_t onset, end;    /* ticks */
} seg;

typedef struct chan_info {
	int64_t nsamples, nsegments;
	int64_t t0, next;      /* current run: segment start, next offset */
} chan_info;

typedef struct count {
	char *name;
	int64_t n;
} count;

typedef struct info {
	const psg_header *h;
	chan_info *ch;
	seg *segs;             /* of the first channel, capped */
	int64_t nsegs;
	count *labels;         /* annotation labels, capped */
	int nlabels;
	int64_t *events;       /* per event type */
	int64_t nepoch_records, nsummary, narrays;
	psg_end end;
	int is_stream;
} info;

static void usage(FILE *f)
{
	fputs("usage: psg-info [--json] [FILE|-]\n"
	      "Describes a recording (EDF/BDF) or a psgpipe stream (stdin by "
	      "default).\n\n"
	      "  -j, --json   machine-readable output\n"
	      "      --versionthe version\n"
	      "  -h, --help   this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable, malformed or truncated "
	      "input.\n", f);
}

static void add_label(info *in, const char *label)
{
	for (int i = 0; i < in->nlabels; i++)
		if (!strcmp(in->labels[i].name, label)) {
			in->labels[i].n++;
			return;
		}
	if (in->nlabels == INFO_MAX)
		return;
	count *c = realloc(in->labels, (size_t)(in->nlabels + 1) * sizeof *c);
	if (!c || !(c[in->nlabels].name = strdup(label)))
		die(EXIT_IO, "out of memory");
	c[in->nlabels].n = 1;
	in->labels = c;
	in->nlabels++;
}

static void add_block(info *in, const psg_block *b)
{
	chan_info *c = &in->ch[b->channel];
	const psg_channel *pc = &in->h->channels[b->channel];
	if (!c->nsegments || b->t0 != c->t0 || b->offset != c->next) {
		c->nsegments++;
		c->t0 = b->t0;
		if (b->channel == 0 && in->nsegs++ < INFO_MAX) {
			seg *s = realloc(in->segs, (size_t)in->nsegs * sizeof *s);
			if (!s)
				die(EXIT_IO, "out of memory");
			in->segs = s;
			s[in->nsegs - 1].onset = psg_sample_time(pc, b->t0,
								 b->offset);
		}
	}
	c->next = b->offset + b->n;
	c->nsamples += b->n;
	if (b->channel == 0 && in->nsegs <= INFO_MAX)
		in->segs[in->nsegs - 1].end = psg_sample_time(pc, b->t0,
							      c->next);
}

static void gather(psg_reader *r, info *in)
{
	psg_record rec;
	int st;
	while ((st = psg_reader_next(r, &rec)) > 0) {
		switch (rec.kind) {
		case PSG_REC_DATA:
			add_block(in, &rec.block);
			break;
		case PSG_REC_EVENT:
			in->events[rec.event.type]++;
			if (!strcmp(in->h->evtypes[rec.event.type].name,
				    "annotations"))
				add_label(in, rec.event.label);
			break;
		case PSG_REC_EPOCH: in->nepoch_records++; break;
		case PSG_REC_SUMMARY: in->nsummary++; break;
		case PSG_REC_ARRAY: in->narrays++; break;
		case PSG_REC_END: in->end = rec.end; break;
		}
	}
	if (st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(r));
}

static double sec(int64_t t)
{
	return (double)t / PSG_TICKS_PER_SEC;
}

static int64_t gap_total(const info *in)
{
	int64_t g = 0, n = in->nsegs < INFO_MAX ? in->nsegs : INFO_MAX;
	for (int64_t i = 1; i < n; i++)
		g += in->segs[i].onset - in->segs[i - 1].end;
	return g;
}

static void print_text(const info *in)
{
	const psg_header *h = in->h;
	char iso[40];
	int64_t d = in->end.duration;
	psg_header_start_iso(h, iso, sizeof iso);
	printf("source      %s\ntype        %s%s\nstart       %s\n", h->source,
	       h->file_type, in->is_stream ? " (via stream)" : "", iso);
	printf("duration    %.3f s (%02" PRId64 ":%02" PRId64 ":%02" PRId64
	       ")\n", sec(d), d / 36000000000, d / 600000000 % 60,
	       d / 10000000 % 60);
	printf("epochs      %" PRId64 " x %g s\n", psg_header_nepochs(h),
	       sec(h->epoch_len));
	printf("patient     %s\nrecording   %s\n", h->patient, h->recording);
	printf("sha256      %s\n", in->end.sha256[0] ? in->end.sha256 : "-");
	printf("channels    %d\n", h->nchannels);
	printf("  %3s  %-20s %-6s %-6s %10s %12s %8s %22s\n", "#", "label",
	       "kind", "unit", "rate_hz", "samples", "segments", "physical range");
	for (int i = 0; i < h->nchannels; i++) {
		const psg_channel *c = &h->channels[i];
		printf("  %3d  %-20s %-6s %-6s %10.6g %12" PRId64 " %8" PRId64
		       " %10.6g..%-10.6g\n", i, c->label, c->kind, c->unit,
		       psg_channel_rate(c), in->ch[i].nsamples,
		       in->ch[i].nsegments, c->phys_min, c->phys_max);
	}
	printf("segments    %" PRId64 " (gaps: %" PRId64 ", %.3f s in all)\n",
	       in->nsegs, in->nsegs > 0 ? in->nsegs - 1 : 0,
	       sec(gap_total(in)));
	for (int64_t i = 0; in->nsegs > 1 && i < in->nsegs && i < INFO_MAX; i++)
		printf("  %.7f - %.7f s\n", sec(in->segs[i].onset),
		       sec(in->segs[i].end));
	for (int i = 0; i < h->nevtypes; i++)
		printf("events      %-20s %" PRId64 "\n", h->evtypes[i].name,
		       in->events[i]);
	for (int i = 0; i < in->nlabels; i++)
		printf("  %6" PRId64 "  %s\n", in->labels[i].n,
		       in->labels[i].name);
	if (h->nfeatures)
		printf("features    %d, %" PRId64 " epoch records\n",
		       h->nfeatures, in->nepoch_records);
	if (in->nsummary)
		printf("summaries   %" PRId64 "\n", in->nsummary);
	if (in->narrays)
		printf("arrays      %" PRId64 " rows\n", in->narrays);
}

static void jstr(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void jkey(const char *k, const char *v, int comma)
{
	printf("  \"%s\": ", k);
	jstr(v);
	printf(comma ? ",\n" : "\n");
}

static void print_json(const info *in)
{
	const psg_header *h = in->h;
	char iso[40];
	psg_header_start_iso(h, iso, sizeof iso);
	printf("{\n");
	jkey("source", h->source, 1);
	jkey("file_type", h->file_type, 1);
	jkey("start", iso, 1);
	printf("  \"duration_s\": %.7f,\n  \"epoch_length_s\": %.7f,\n"
	       "  \"epoch_origin_s\": %.7f,\n  \"epochs\": %" PRId64 ",\n",
	       sec(in->end.duration), sec(h->epoch_len), sec(h->epoch_origin),
	       psg_header_nepochs(h));
	jkey("patient", h->patient, 1);
	jkey("recording", h->recording, 1);
	jkey("sha256", in->end.sha256, 1);
	printf("  \"channels\": [");
	for (int i = 0; i < h->nchannels; i++) {
		const psg_channel *c = &h->channels[i];
		printf("%s\n    {\"index\": %d, \"label\": ", i ? "," : "", i);
		jstr(c->label);
		printf(", \"kind\": ");
		jstr(c->kind);
		printf(", \"unit\": ");
		jstr(c->unit);
		printf(", \"rate_hz\": %.17g, \"samples_per_period\": %" PRId64
		       ", \"period_s\": %.7f, \"samples\": %" PRId64
		       ", \"segments\": %" PRId64 ", \"phys_min\": %.17g, "
		       "\"phys_max\": %.17g}", psg_channel_rate(c), c->spr,
		       sec(c->period), in->ch[i].nsamples, in->ch[i].nsegments,
		       c->phys_min, c->phys_max);
	}
	printf("\n  ],\n  \"segments\": [");
	for (int64_t i = 0; i < in->nsegs && i < INFO_MAX; i++)
		printf("%s\n    {\"onset_s\": %.7f, \"end_s\": %.7f}",
		       i ? "," : "", sec(in->segs[i].onset),
		       sec(in->segs[i].end));
	printf("\n  ],\n  \"events\": {");
	for (int i = 0; i < h->nevtypes; i++) {
		printf("%s\n    ", i ? "," : "");
		jstr(h->evtypes[i].name);
		printf(": %" PRId64, in->events[i]);
	}
	printf("\n  },\n  \"annotations\": {");
	for (int i = 0; i < in->nlabels; i++) {
		printf("%s\n    ", i ? "," : "");
		jstr(in->labels[i].name);
		printf(": %" PRId64, in->labels[i].n);
	}
	printf("\n  },\n  \"features\": %d,\n  \"epoch_records\": %" PRId64
	       ",\n  \"summaries\": %" PRId64 ",\n  \"array_rows\": %" PRId64
	       "\n}\n", h->nfeatures, in->nepoch_records, in->nsummary,
	       in->narrays);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"json", 0, 0, 'j'},
		{"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	psg_open_opts oo = {.no_samples = 1, .hash = 1};
	info in = {0};
	int c, st, json = 0;
	char msg[512];
	stage_name = "psg-info";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': usage(stdout); return 0;
		default: bad_option(c, argv);
		}
	}
	const char *path = single_input(argc, argv);
	psg_reader *r = psg_reader_open(path, &oo, &st, msg, sizeof msg);
	if (!r)
		die(exit_code(st), "%s", msg);
	print_warnings(r, path);
	in.h = psg_reader_header(r);
	in.is_stream = psg_reader_is_stream(r);
	in.ch = calloc((size_t)in.h->nchannels + 1, sizeof *in.ch);
	in.events = calloc((size_t)in.h->nevtypes + 1, sizeof *in.events);
	if (!in.ch || !in.events)
		die(EXIT_IO, "out of memory");
	gather(r, &in);
	if (json)
		print_json(&in);
	else
		print_text(&in);
	if (fflush(stdout) || ferror(stdout))
		die(EXIT_IO, "write error on standard output");
	for (int i = 0; i < in.nlabels; i++)
		free(in.labels[i].name);
	free(in.labels);
	free(in.segs);
	free(in.ch);
	free(in.events);
	psg_reader_free(r);
	return 0;
}
