/*
 * events_text.c -- reference events from text files (psg-score --events,
 * --detected): a TSV whose header line names an `onset` column (psg-synth's
 * NAME.events.tsv; kind, label and duration optional), or a DREAMS event
 * file ("[name]", then "onset duration" in seconds per line).  Moved out
 * of psg-score so that it returns errors instead of exiting, and so that
 * libFuzzer can drive it (tests/fuzz, fuzz_events).  Times enter here, so
 * the limits are checked here: onsets within the longest recording
 * (psg_max_duration), durations finite and at most 10^9 s.
 */
#include "internal.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct list {
	psg_ref_event *v;
	size_t n, cap;
	char *msg;
	size_t msglen;
} list;

__attribute__((format(printf, 3, 4)))
static int err(list *l, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->msg, l->msglen, fmt, ap);
	va_end(ap);
	psg__one_line(l->msg);
	return st;
}

static int add(list *l, double onset, double dur)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		psg_ref_event *p = realloc(l->v, cap * sizeof *p);
		if (!p)
			return err(l, PSG_ERR_NOMEM, "out of memory");
		l->v = p, l->cap = cap;
	}
	l->v[l->n].onset = llround(onset * PSG_TICKS_PER_SEC);
	l->v[l->n++].duration = dur < 0 ? -1 :
				llround(dur * PSG_TICKS_PER_SEC);
	return PSG_OK;
}

static int selected(const char *pattern, const char *s)
{
	return !pattern || !fnmatch(pattern, s, 0);
}

/* Splits a line at tabs, in place, empty fields kept; returns the count. */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	line[strcspn(line, "\r\n")] = '\0';
	for (char *p = line; n < max; *p++ = '\0') {
		f[n++] = p;
		if (!(p = strchr(p, '\t')))
			break;
	}
	return n;
}

/* An onset within the longest recording, a duration (when there is a
   column) finite and at most 10^9 s: -1 on a bad field. */
static int tsv_times(list *l, const char *path, long ln, char **fld, int on,
		     int dur, double *v, double *d)
{
	char *end;
	*v = strtod(fld[on], &end);
	if (end == fld[on] || *end || isnan(*v))
		return err(l, PSG_ERR_FORMAT, "%s:%ld: bad onset '%s'", path,
			   ln, fld[on]);
	if (fabs(*v) * PSG_TICKS_PER_SEC > (double)psg_max_duration())
		return err(l, PSG_ERR_LIMIT, "%s:%ld: onset '%s' is beyond "
			   "the longest recording (PSG_MAX_DAYS)", path, ln,
			   fld[on]);
	*d = dur < 0 ? -1 : strtod(fld[dur], &end);
	if (dur >= 0 && (end == fld[dur] || *end || !(fabs(*d) <= 1e9)))
		return err(l, PSG_ERR_FORMAT, "%s:%ld: bad duration '%s'",
			   path, ln, fld[dur]);
	return PSG_OK;
}

/* The TSV whose header line `head` names `onset`. */
static int read_tsv(list *l, FILE *f, const char *path, char *head,
		    const char *pattern)
{
	char *fld[64], *line = NULL;
	size_t cap = 0;
	int on = -1, kind = -1, label = -1, dur = -1, st = PSG_OK;
	int n = split_tabs(head, fld, 64);
	for (int i = n - 1; i >= 0; i--) {
		on = strcmp(fld[i], "onset") ? on : i;
		kind = strcmp(fld[i], "kind") ? kind : i;
		label = strcmp(fld[i], "label") ? label : i;
		dur = strcmp(fld[i], "duration") ? dur : i;
	}
	int lab = kind >= 0 ? kind : label;
	if (pattern && lab < 0)
		return err(l, PSG_ERR_NOTFOUND, "%s: no kind or label column "
			   "to match --ref-label against", path);
	for (long ln = 2; !st && getline(&line, &cap, f) > 0; ln++) {
		double v = 0, d = -1;
		if (!(n = split_tabs(line, fld, 64)) || (n == 1 && !*fld[0]))
			continue;
		if (n <= on || n <= lab || n <= dur)
			st = err(l, PSG_ERR_FORMAT, "%s:%ld: %d fields, fewer "
				 "than the header's", path, ln, n);
		else if (!(st = tsv_times(l, path, ln, fld, on, dur, &v, &d)) &&
			 (lab < 0 || selected(pattern, fld[lab])))
			st = add(l, v, d);
	}
	free(line);
	return st;
}

/* A DREAMS event file: "[name]" (matched against the pattern), then
   "onset duration" in s per line. */
static int read_dreams(list *l, FILE *f, const char *path, const char *head,
		       const char *pattern)
{
	char name[256], *line = NULL;
	size_t cap = 0;
	int st = PSG_OK;
	snprintf(name, sizeof name, "%.*s", (int)strcspn(head + 1, "]"),
		 head + 1);
	int keep = selected(pattern, name);
	for (long ln = 2; !st && getline(&line, &cap, f) > 0; ln++) {
		double on, dur;
		char extra;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		if (sscanf(line, "%lf %lf %c", &on, &dur, &extra) != 2 ||
		    !(dur >= 0 && dur <= 1e9) || isnan(on))
			st = err(l, PSG_ERR_FORMAT, "%s:%ld: not an onset and "
				 "a duration", path, ln);
		else if (fabs(on) * PSG_TICKS_PER_SEC >
			 (double)psg_max_duration())
			st = err(l, PSG_ERR_LIMIT, "%s:%ld: onset %g s is "
				 "beyond the longest recording (PSG_MAX_DAYS)",
				 path, ln, on);
		else if (keep)
			st = add(l, on, dur);
	}
	free(line);
	return st;
}

/* Which of the two the first line says: 1 TSV, 2 DREAMS, 0 neither. */
static int text_kind(const char *head)
{
	char tmp[4096], *fld[64];
	if (!strchr(head, '\n'))
		return 0;
	snprintf(tmp, sizeof tmp, "%s", head);
	int n = split_tabs(tmp, fld, 64);
	for (int i = 0; i < n; i++)
		if (!strcmp(fld[i], "onset"))
			return 1;
	size_t len = strcspn(head, "\r\n");
	return head[0] == '[' && len > 2 && head[len - 1] == ']' &&
	       strncmp(head, "[Hypnogram]", 11) ? 2 : 0;
}

int psg_events_read_text(const char *path, const char *pattern,
			 psg_ref_event **ev, size_t *n, char *msg,
			 size_t msglen)
{
	char head[4096] = "";
	list l = {NULL, 0, 0, msg, msglen};
	int st = 1;
	*ev = NULL, *n = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return err(&l, PSG_ERR_IO, "%s: %s", path, strerror(errno));
	int kind = fgets(head, sizeof head, f) ? text_kind(head) : 0;
	if (kind == 1)
		st = read_tsv(&l, f, path, head, pattern);
	else if (kind == 2)
		st = read_dreams(&l, f, path, head, pattern);
	if (st <= 0 && ferror(f))
		st = err(&l, PSG_ERR_IO, "%s: %s", path, strerror(errno));
	fclose(f);
	if (st)
		free(l.v);
	else
		*ev = l.v, *n = l.n;
	return st;
}
