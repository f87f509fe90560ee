/*
 * mkedf -- writes a deterministic EDF+C recording of any size through
 * edflib's writer, for memory and speed measurements of the readers.
 * (Realistic nights with ground truth are psg-synth's job; this is only
 * bulk: per channel a sine of its own frequency plus LCG noise.)
 *
 *   mkedf [--hours H] [--channels N] [--rate HZ] [--bdf] -o FILE
 */
#include <edflib.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define TWO_PI 6.283185307179586

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"hours", 1, 0, 'H'},
		{"channels", 1, 0, 'n'}, {"rate", 1, 0, 'r'},
		{"bdf", 0, 0, 'b'}, {0, 0, 0, 0}};
	double hours = 1;
	int nch = 16, rate = 256, bdf = 0, c;
	const char *out = NULL;
	while ((c = getopt_long(argc, argv, "o:", lo, NULL)) != -1) {
		switch (c) {
		case 'H': hours = atof(optarg); break;
		case 'n': nch = atoi(optarg); break;
		case 'r': rate = atoi(optarg); break;
		case 'b': bdf = 1; break;
		case 'o': out = optarg; break;
		default: return 1;
		}
	}
	if (!out || hours <= 0 || nch < 1 || nch > 512 || rate < 1) {
		fprintf(stderr, "mkedf: usage: mkedf [--hours H] [--channels N] "
			"[--rate HZ] [--bdf] -o FILE\n");
		return 1;
	}
	int h = edfopen_file_writeonly(out, bdf ? EDFLIB_FILETYPE_BDFPLUS :
				       EDFLIB_FILETYPE_EDFPLUS, nch);
	if (h < 0) {
		fprintf(stderr, "mkedf: cannot create %s (%d)\n", out, h);
		return 2;
	}
	int dmax = bdf ? 8388607 : 32767;
	for (int i = 0; i < nch; i++) {
		char label[17];
		snprintf(label, sizeof label, "EEG %d", i);
		edf_set_samplefrequency(h, i, rate);
		edf_set_physical_maximum(h, i, 500);
		edf_set_physical_minimum(h, i, -500);
		edf_set_digital_maximum(h, i, dmax);
		edf_set_digital_minimum(h, i, -dmax - 1);
		edf_set_label(h, i, label);
		edf_set_physical_dimension(h, i, "uV");
	}
	edf_set_startdatetime(h, 2026, 1, 2, 22, 30, 0);
	long long nrec = (long long)(hours * 3600);
	int *buf = malloc((size_t)nch * (size_t)rate * sizeof *buf);
	unsigned lcg = 12345;
	for (long long r = 0; r < nrec; r++) {
		for (int i = 0; i < nch; i++)
			for (int k = 0; k < rate; k++) {
				double t = (double)(r * rate + k) / rate;
				lcg = lcg * 1664525u + 1013904223u;
				double v = 0.3 * sin(TWO_PI * (1 + i % 30) * t) +
					   0.05 * ((lcg >> 8) / 16777216.0 - 0.5);
				buf[i * rate + k] = (int)(v * dmax);
			}
		if (edf_blockwrite_digital_samples(h, buf)) {
			fprintf(stderr, "mkedf: write failed at record %lld\n",
				r);
			return 2;
		}
		if (r % 3600 == 0)
			edfwrite_annotation_utf8(h, r * 10000, -1, "hour mark");
	}
	free(buf);
	return edfclose_file(h) ? 2 : 0;
}
