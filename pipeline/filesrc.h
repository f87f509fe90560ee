/*
 * filesrc.h -- what the two EDF backends share: the order in which a
 * recording file becomes records.  Each chunk of contiguous data records
 * becomes one block per selected channel; annotations whose onset falls
 * before the chunk's end go out first, so consumers see them in time order.
 */
#ifndef PSG_FILESRC_H
#define PSG_FILESRC_H

#include "internal.h"

typedef struct filesrc_ann {
	int64_t onset, duration;
	char *text;
} filesrc_ann;

/* A FIFO of annotations waiting to be emitted, kept sorted by onset. */
typedef struct filesrc_queue {
	filesrc_ann *a;
	size_t head, n, cap;
} filesrc_queue;

int filesrc_queue_push(filesrc_queue *q, int64_t onset, int64_t duration,
		       const char *text);
/* Sorts the waiting annotations by onset (stable). */
void filesrc_queue_sort(filesrc_queue *q);
/* Fills rec with the next annotation whose onset is < limit; 0 if none.
   The text stays valid until the next call. */
int filesrc_queue_pop(filesrc_queue *q, int64_t limit, psg_record *rec,
		      char **hold);
void filesrc_queue_free(filesrc_queue *q);

/* The END record of a file source: duration, and the hash once the hashing
   thread is done (*hs is consumed). */
int filesrc_end(psg_reader *r, psg_hasher **hs, psg_record *rec);

/* Declares the "annotations" event table every file source carries. */
int filesrc_declare(psg_header *h);

/* Start date from an EDF header's "dd.mm.yy" and "hh.mm.ss", with the
   four-digit year of an EDF+ "Startdate dd-MMM-yyyy" when present. */
int filesrc_parse_start(psg_header *h, const char *date, const char *time);

/* A number field of n characters (blank-padded): 0, or -1 if it is not
   a finite number ("nan", "inf", "1e999" are not); _int_field: a whole
   number within [lo, hi]. */
int filesrc_num_field(const char *p, size_t n, double *v);
int filesrc_int_field(const char *p, size_t n, double lo, double hi,
		      int64_t *out);
/* The counts of an EDF/BDF main header m (256 bytes), read strictly, the
   same for both backends: header size, records (-1: unknown), record
   duration in ticks, signals.  PSG_OK or PSG_ERR_FORMAT with r->err. */
int filesrc_main_numbers(psg_reader *r, const char *m, int64_t *hdrbytes,
			 int64_t *nrec, int64_t *recdur, int *ns);

/* Records per chunk for a target block length in seconds. */
int64_t filesrc_records_per_chunk(int64_t record_ticks, double seconds);

#endif
