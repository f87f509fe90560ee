/*
 * psg-dump -- a stream (or a recording) as text: header, data blocks with
 * their samples, events, epoch features, summaries and the end record.
 * Meant for golden-file tests and for looking; the format is line-based,
 * one record a line, samples on indented lines (docs/stream.md).
 */
#include "stage.h"

#include <getopt.h>
#include <inttypes.h>

static int show_samples = 1, header_only = 0;

static void usage(FILE *f)
{
	fputs("usage: psg-dump [options] [FILE|-]\n"
	      "Prints a psgpipe stream (stdin by default) or a recording as "
	      "text.\n\n"
	      "      --no-samples   data blocks without their sample values\n"
	      "  -H, --header       the header only\n"
	      "      --version      the version\n"
	      "  -h, --help         this help\n\n"
	      "Exit: 0 ok, 1 usage, 2 unreadable, malformed or truncated "
	      "input.\n", f);
}

/* Strings are printed in double quotes with \" \\ and \n escaped. */
static void qstr(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\'), putchar(*s);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else if ((unsigned char)*s < 0x20)
			printf("\\x%02x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void secs(int64_t t)
{
	/* Ticks as exact decimal seconds (7 digits). */
	int64_t a = t < 0 ? -t : t;
	printf("%s%" PRId64 ".%07" PRId64, t < 0 ? "-" : "",
	       a / PSG_TICKS_PER_SEC, a % PSG_TICKS_PER_SEC);
}

static void field(const char *name, const char *val)
{
	printf("%s ", name);
	qstr(val);
	putchar('\n');
}

static void dump_channel(int i, const psg_channel *c)
{
	printf("channel %d label=", i);
	qstr(c->label);
	printf(" kind=%s unit=", c->kind);
	qstr(c->unit);
	printf(" rate=%.9g spr=%" PRId64 " period=", psg_channel_rate(c),
	       c->spr);
	secs(c->period);
	printf(" phys=%.9g:%.9g dig=%d:%d transducer=", c->phys_min,
	       c->phys_max, c->dig_min, c->dig_max);
	qstr(c->transducer);
	printf(" prefilter=");
	qstr(c->prefilter);
	putchar('\n');
}

/* The input's stream version, not this build's: a 1.1 stream read by a
   1.2 build says 1.1.  A recording says what psg-read would write. */
static void dump_header(const psg_reader *r, const psg_header *h)
{
	char iso[40];
	int major = PSG_STREAM_MAJOR, minor = PSG_STREAM_MINOR;
	psg_reader_stream_version(r, &major, &minor);
	printf("stream %d.%d\n", major, minor);
	field("software", h->software);
	field("file_type", h->file_type);
	field("source", h->source);
	psg_header_start_iso(h, iso, sizeof iso);
	printf("start %s\nduration ", iso);
	secs(h->duration);
	printf("\nepoch ");
	secs(h->epoch_len);
	printf(" origin ");
	secs(h->epoch_origin);
	putchar('\n');
	field("patient", h->patient);
	field("recording", h->recording);
	for (int i = 0; i < h->nhistory; i++)
		field("history", h->history[i]);
	for (int i = 0; i < h->nchannels; i++)
		dump_channel(i, &h->channels[i]);
	for (int i = 0; i < h->nfeatures; i++) {
		printf("feature %d name=", i);
		qstr(h->features[i].name);
		printf(" unit=");
		qstr(h->features[i].unit);
		printf(" desc=");
		qstr(h->features[i].desc);
		putchar('\n');
	}
	for (int i = 0; i < h->nroles; i++) {
		printf("role %s %s %d ", h->roles[i].stage, h->roles[i].role,
		       h->roles[i].channel);
		qstr(h->channels[h->roles[i].channel].label);
		putchar('\n');
	}
	for (int i = 0; i < h->nevtypes; i++) {
		printf("evtype %d name=", i);
		qstr(h->evtypes[i].name);
		for (int k = 0; k < h->evtypes[i].nfields; k++)
			printf(" %s[%s]", h->evtypes[i].field[k],
			       h->evtypes[i].unit[k]);
		putchar('\n');
	}
}

static void dump_block(const psg_header *h, const psg_block *b)
{
	printf("data %d t0=", b->channel);
	secs(b->t0);
	printf(" offset=%" PRId64 " n=%d time=", b->offset, b->n);
	secs(psg_sample_time(&h->channels[b->channel], b->t0, b->offset));
	putchar('\n');
	/* Ten samples a line, %.9g: enough digits to round-trip a float. */
	for (int i = 0; show_samples && i < b->n; i++)
		printf("%s%.9g%s", i % 10 ? " " : "  ", (double)b->x[i],
		       i % 10 == 9 || i == b->n - 1 ? "\n" : "");
}

static void dump_event(const psg_header *h, const psg_event *e)
{
	printf("event ");
	qstr(h->evtypes[e->type].name);
	printf(" onset=");
	secs(e->onset);
	printf(" duration=");
	if (e->duration < 0)
		putchar('-');
	else
		secs(e->duration);
	printf(" channel=");
	if (e->channel < 0)
		putchar('-');
	else
		qstr(h->channels[e->channel].label);
	printf(" label=");
	qstr(e->label);
	for (int i = 0; i < e->nvalues; i++)
		printf(" %s=%.9g", h->evtypes[e->type].field[i], e->values[i]);
	putchar('\n');
}

static void dump_record(const psg_header *h, const psg_record *r)
{
	switch (r->kind) {
	case PSG_REC_DATA:
		dump_block(h, &r->block);
		break;
	case PSG_REC_EVENT:
		dump_event(h, &r->event);
		break;
	case PSG_REC_EPOCH:
		printf("epoch %" PRId64, r->epoch.epoch);
		for (int i = 0; i < r->epoch.n; i++)
			printf(" %s=%.9g", h->features[r->epoch.feature[i]].name,
			       r->epoch.value[i]);
		putchar('\n');
		break;
	case PSG_REC_SUMMARY:
		printf("summary ");
		qstr(r->summary.name);
		printf(" unit=");
		qstr(r->summary.unit);
		printf(" value=%.9g\n", r->summary.value);
		break;
	case PSG_REC_ARRAY:
		printf("array ");
		qstr(r->array.name);
		printf(" channel=");
		if (r->array.channel < 0)
			putchar('-');
		else
			qstr(h->channels[r->array.channel].label);
		printf(" row=%" PRId64 " x0=%.9g dx=%.9g unit=", r->array.row,
		       r->array.x0, r->array.dx);
		qstr(r->array.unit);
		printf(" n=%d\n", r->array.n);
		for (int i = 0; show_samples && i < r->array.n; i++)
			printf("%s%.9g%s", i % 10 ? " " : "  ",
			       (double)r->array.v[i],
			       i % 10 == 9 || i == r->array.n - 1 ? "\n" : "");
		break;
	case PSG_REC_END:
		printf("end duration=");
		secs(r->end.duration);
		printf(" records=%" PRIu64 " sha256=%s\n", r->end.nrecords,
		       r->end.sha256[0] ? r->end.sha256 : "-");
		break;
	}
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"no-samples", 0, 0, 'S'},
		{"header", 0, 0, 'H'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
	psg_open_opts oo = {.hash = 1};
	psg_record r;
	int c, st;
	char msg[512];
	stage_name = "psg-dump";
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":Hh", lo, NULL)) != -1) {
		switch (c) {
		case 'S': show_samples = 0; break;
		case 'H': header_only = 1; break;
		case 'h': usage(stdout); return 0;
		default: bad_option(c, argv);
		}
	}
	const char *path = single_input(argc, argv);
	oo.no_samples = !show_samples;
	psg_reader *in = strcmp(path, "-") || stdin_is_input() ?
			 psg_reader_open(path, &oo, &st, msg, sizeof msg) :
			 stream_in(&st, msg, sizeof msg);
	if (!in)
		die(exit_code(st), "%s", msg);
	print_warnings(in, path);
	const psg_header *h = psg_reader_header(in);
	dump_header(in, h);
	while (!header_only && (st = psg_reader_next(in, &r)) > 0)
		dump_record(h, &r);
	if (fflush(stdout) || ferror(stdout))
		die(EXIT_IO, "write error on standard output");
	if (!header_only && st < 0)
		die(exit_code(st), "%s", psg_reader_errmsg(in));
	psg_reader_free(in);
	return 0;
}
