/*
 * results.h -- what the stages that read a night's result file (psg-export,
 * psg-report) share: the one NIGHT.h5 operand, opening it, and writing an
 * output that appears complete or not at all (tmpout.h).
 */
#ifndef PSG_RESULTS_H
#define PSG_RESULTS_H

#include "stage.h"
#include "tmpout.h"

/* The single operand after the options. */
static const char *one_night(int argc, char **argv)
{
	if (optind + 1 != argc)
		die(EXIT_USAGE, optind == argc ? "no night given (see %s "
		    "--help)" : "one night at a time", stage_name);
	return argv[optind];
}

static void probe_night(void *path)
{
	psg_result_close(psg_result_open(path, NULL));
}

static psg_result *open_night(const char *path)
{
	int st;
	char why[128];
	tmpout_input(path);         /* no output may replace the night */
	if (crash_probe(probe_night, (void *)path, why, sizeof why))
		die(EXIT_IO, "%s: the HDF5 library crashed reading it (%s): "
		    "a corrupt file", path, why);
	psg_result *r = psg_result_open(path, &st);
	if (!r)
		die(st == PSG_ERR_VERSION ? EXIT_UNSUITABLE : EXIT_IO, "%s",
		    psg_result_errmsg(NULL));
	return r;
}

typedef void (*writer_fn)(FILE *f, const void *data);

/* fn writes out through a temporary file renamed into place (in place
   when out is a device or FIFO). */
static void write_atomic(const char *out, writer_fn fn, const void *data)
{
	char err[PATH_MAX + 256];
	const char *tmp = tmpout_make(0, out, 1, err, sizeof err);
	FILE *f = tmp ? fopen(tmp, "w") : NULL;
	if (!f)
		die(EXIT_IO, "%s", tmp ? strerror(errno) : err);
	fn(f, data);
	if (ferror(f) | fclose(f))
		die(EXIT_IO, "%s: cannot write: %s", out, strerror(errno));
	if (tmpout_commit(0, out, err, sizeof err))
		die(EXIT_IO, "%s", err);
}

#endif
