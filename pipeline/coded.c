/* coded.c -- the names of categorical columns: the one list of them.
 *
 * Stream fields and epoch features are float64 (docs/stream.md), so a
 * stage sends a category as a number; a result file (schema 2.0,
 * docs/hdf5.md) stores its name instead, so that a reader never needs
 * a legend kept elsewhere.  psg-h5 writes the names, the result reader
 * turns a 1.x file's codes into the same names, and the stages that send
 * the codes take their names from here. */
#include "psg.h"

#include <math.h>
#include <string.h>

static const char *const emg_kinds[] = {"twitch", "lm", "spasm", "rmma",
					"burst"};
static const char *const unusable[] = {"usable", "flat", "saturated",
				       "artefact"};
static const char *const stages[] = {"?", "W", "N1", "N2", "N3", "R"};
static const char *const rules[] = {"none", "wake", "sws", "n2", "chin",
				    "run", "n1"};

/* table: an event type or "epochs"; first: the code of names[0]. */
static const struct coded {
	const char *table, *column;
	int first, n;
	const char *const *names;
} coded[] = {
	{"emg_bursts", "kind", 1, 5, emg_kinds},        /* psg-emg */
	{"epochs", "sws_unusable", 0, 4, unusable},     /* psg-sws */
	{"epochs", "stage", PSG_STAGE_UNKNOWN, 6, stages}, /* psg-synth's truth */
	{"epochs", "sleep_stage", PSG_STAGE_UNKNOWN, 6, stages}, /* psg-stage */
	{"epochs", "stage_rule", 0, 7, rules},          /* psg-stage */
};

static const struct coded *find(const char *table, const char *column)
{
	for (size_t i = 0; table && column && i < sizeof coded / sizeof *coded;
	     i++)
		if (!strcmp(coded[i].table, table) &&
		    !strcmp(coded[i].column, column))
			return &coded[i];
	return NULL;
}

int psg_coded_column(const char *table, const char *column)
{
	return find(table, column) != NULL;
}

const char *psg_coded_name(const char *table, const char *column,
			   double code)
{
	const struct coded *c = find(table, column);
	if (!c)
		return NULL;
	if (isnan(code))
		return "";
	double k = code - c->first;
	if (k != floor(k) || k < 0 || k >= c->n)
		return NULL;
	return c->names[(int)k];
}

double psg_coded_value(const char *table, const char *column,
		       const char *name)
{
	const struct coded *c = find(table, column);
	for (int i = 0; c && name && *name && i < c->n; i++)
		if (!strcmp(c->names[i], name))
			return c->first + i;
	return NAN;
}
