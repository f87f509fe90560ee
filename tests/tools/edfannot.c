/* edfannot -- the annotations of an EDF+/BDF+ file as edflib reads them,
   for tests: a first line "start YYYY-MM-DDThh:mm:ss.sssssss N", then
   onset_ticks, duration_ticks (-1: none) and text, tab-separated. */
#include <edflib.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: edfannot FILE.edf\n", stderr);
		return 1;
	}
	struct edf_hdr_struct *h = calloc(1, sizeof *h);  /* ~149 KB */
	if (!h || edfopen_file_readonly(argv[1], h,
					EDFLIB_READ_ALL_ANNOTATIONS)) {
		fprintf(stderr, "edfannot: %s: edflib error %d\n", argv[1],
			h ? h->filetype : -1);
		return 2;
	}
	printf("start %04d-%02d-%02dT%02d:%02d:%02d.%07lld %lld\n",
	       h->startdate_year, h->startdate_month, h->startdate_day,
	       h->starttime_hour, h->starttime_minute, h->starttime_second,
	       h->starttime_subsecond, h->annotations_in_file);
	for (long long i = 0; i < h->annotations_in_file; i++) {
		struct edf_annotation_struct a;
		if (edf_get_annotation(h->handle, (int)i, &a))
			return 2;
		printf("%lld\t%lld\t%s\n", a.onset, a.duration_l ==
		       -EDFLIB_TIME_DIMENSION ? -1 : a.duration_l,
		       a.annotation);
	}
	edfclose_file(h->handle);
	free(h);
	return 0;
}
