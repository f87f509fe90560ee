/*
 * fuzz_read.c -- libFuzzer harness (issue 16) for libpsg's readers through
 * the public API: every record of the input is read until the end or the
 * first error, as every stage does.  Built once per kind (Makefile, make
 * fuzz) with FUZZ_KIND:
 *
 *   1 stream      psg_reader_open_fd on the bytes (the stream decoder)
 *   2 edf_native  psg_reader_open, --backend native
 *   3 edf_edflib  psg_reader_open, --backend edflib
 *   4 edf_auto    psg_reader_open as psg-read does (the default reader)
 *   5 hypnogram   psg_hypnogram_read (EDF+ annotations, DREAMS text,
 *                 one stage per line, TSV)
 *   6 events      psg_events_read_text, psg-score's reference events (a
 *                 TSV with an onset column, DREAMS event text), once for
 *                 every event and once with a --ref-label pattern
 *
 * The readers want a file: the input is written to one temporary file per
 * process, rewritten for each run.  ASan/UBSan (with -fno-sanitize-recover)
 * turn any memory error or undefined behaviour into a finding; a run over
 * libFuzzer's time or memory limits is one too (runaway output).
 */
#include "psg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#ifndef FUZZ_KIND
#define FUZZ_KIND 1
#endif

static char g_path[64];

static const char *input_file(const uint8_t *data, size_t size)
{
	if (!g_path[0]) {
		snprintf(g_path, sizeof g_path, "/tmp/psgfuzz.XXXXXX");
		int fd = mkstemp(g_path);
		if (fd < 0)
			abort();
		close(fd);
	}
	FILE *f = fopen(g_path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	return g_path;
}

__attribute__((unused))
static void drain(psg_reader *r)
{
	psg_record rec;
	long n = 0;
	while (psg_reader_next(r, &rec) > 0 && ++n < 1000000)
		if (rec.kind == PSG_REC_DATA && rec.block.x && rec.block.n > 0)
			(void)rec.block.x[rec.block.n - 1];
	psg_reader_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = input_file(data, size);
	char msg[512];
#if FUZZ_KIND != 5 && FUZZ_KIND != 6
	int st;
#endif
#if FUZZ_KIND == 1
	int fd = open(path, O_RDONLY);
	psg_reader *r = psg_reader_open_fd(fd, &st, msg, sizeof msg);
	if (r)
		drain(r);
	close(fd);
#elif FUZZ_KIND == 6
	for (int k = 0; k < 2; k++) {
		psg_ref_event *ev = NULL;
		size_t n = 0;
		if (!psg_events_read_text(path, k ? "*spindle*" : NULL, &ev, &n,
					  msg, sizeof msg))
			free(ev);
	}
#elif FUZZ_KIND == 5
	psg_stage_run *runs = NULL;
	size_t n = 0;
	if (!psg_hypnogram_read(path, 0, &runs, &n, msg, sizeof msg))
		free(runs);
#else
	psg_open_opts o = {.backend = FUZZ_KIND == 2 ? PSG_EDF_NATIVE :
			   FUZZ_KIND == 3 ? PSG_EDF_EDFLIB : PSG_EDF_AUTO};
	psg_reader *r = psg_reader_open(path, &o, &st, msg, sizeof msg);
	if (r)
		drain(r);
#endif
	return 0;
}
