/* test_result_src.c -- a result file read back as a stream
   (psg_reader_open_results, pipeline/result_src.c): the header from the root
   attributes and /channels, /epochs rows as EPOCH records, event rows as
   EVENT records with categorical text back to its codes (coded.c), figures,
   END; and a reader without the option that does not take the file. */
#include "psg.h"
#include "tap.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hid_t text_type(size_t n)
{
	hid_t s = H5Tcopy(H5T_C_S1);
	H5Tset_size(s, n ? n : H5T_VARIABLE);
	return s;
}

static void put_attr(hid_t obj, const char *name, const char *text,
		     double num)
{
	hid_t t = text ? text_type(0) : H5Tcopy(H5T_NATIVE_DOUBLE);
	hid_t sp = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, t, text ? (const void *)&text : (const void *)&num);
	H5Aclose(a);
	H5Sclose(sp);
	H5Tclose(t);
}

/* A table of n rows from a memory type and its rows. */
static hid_t put_table(hid_t loc, const char *name, hid_t type, hsize_t n,
		       const void *rows)
{
	hid_t sp = H5Screate_simple(1, &n, NULL);
	hid_t d = H5Dcreate2(loc, name, type, sp, H5P_DEFAULT, H5P_DEFAULT,
			     H5P_DEFAULT);
	H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
	H5Sclose(sp);
	return d;
}

typedef struct chan { const char *label, *unit; double spr, period, lo, hi;
		      const char *roles; } chan;
typedef struct ep { double onset, sws; char why[16]; } ep;
typedef struct ev { double onset, dur; const char *ch; int32_t idx;
		    const char *label; char kind[16]; double peak; } ev;

static void make_night(const char *path)
{
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	hid_t vs = text_type(0), fs = text_type(16);
	put_attr(f, "schema_version", "2.0", 0);
	put_attr(f, "start_time", "2026-01-01T22:00:00.2500000", 0);
	put_attr(f, "source_sha256", "ab", 0);
	put_attr(f, "duration_s", NULL, 90);
	put_attr(f, "epoch_length_s", NULL, 30);
	put_attr(f, "epoch_origin_s", NULL, 0);
	chan c[2] = {{"C4-M1", "uV", 256, 1, -500, 500, "wake:eeg"},
		     {"Leg L", "uV", 512, 1, -100, 100, "emg:leg"}};
	hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(chan));
	H5Tinsert(ct, "label", HOFFSET(chan, label), vs);
	H5Tinsert(ct, "unit", HOFFSET(chan, unit), vs);
	H5Tinsert(ct, "samples_per_period", HOFFSET(chan, spr),
		  H5T_NATIVE_DOUBLE);
	H5Tinsert(ct, "period_s", HOFFSET(chan, period), H5T_NATIVE_DOUBLE);
	H5Tinsert(ct, "phys_min", HOFFSET(chan, lo), H5T_NATIVE_DOUBLE);
	H5Tinsert(ct, "phys_max", HOFFSET(chan, hi), H5T_NATIVE_DOUBLE);
	H5Tinsert(ct, "roles", HOFFSET(chan, roles), vs);
	H5Dclose(put_table(f, "channels", ct, 2, c));
	ep e[3] = {{0, 0, "usable"}, {30, -1, "flat"}, {60, NAN, ""}};
	hid_t et = H5Tcreate(H5T_COMPOUND, sizeof(ep));
	H5Tinsert(et, "onset", HOFFSET(ep, onset), H5T_NATIVE_DOUBLE);
	H5Tinsert(et, "sws", HOFFSET(ep, sws), H5T_NATIVE_DOUBLE);
	H5Tinsert(et, "sws_unusable", HOFFSET(ep, why), fs);
	H5Dclose(put_table(f, "epochs", et, 3, e));
	hid_t g = H5Gcreate2(f, "events", H5P_DEFAULT, H5P_DEFAULT,
			     H5P_DEFAULT);
	ev v[2] = {{12.5, 2, "Leg L", 1, "lm", "lm", 20},
		   {40, NAN, "", -1, "spasm", "spasm", 30}};
	hid_t vt = H5Tcreate(H5T_COMPOUND, sizeof(ev));
	H5Tinsert(vt, "onset", HOFFSET(ev, onset), H5T_NATIVE_DOUBLE);
	H5Tinsert(vt, "duration", HOFFSET(ev, dur), H5T_NATIVE_DOUBLE);
	H5Tinsert(vt, "channel", HOFFSET(ev, ch), vs);
	H5Tinsert(vt, "channel_index", HOFFSET(ev, idx), H5T_NATIVE_INT32);
	H5Tinsert(vt, "label", HOFFSET(ev, label), vs);
	H5Tinsert(vt, "kind", HOFFSET(ev, kind), fs);
	H5Tinsert(vt, "peak", HOFFSET(ev, peak), H5T_NATIVE_DOUBLE);
	hid_t d = put_table(g, "emg_bursts", vt, 2, v);
	put_attr(d, "type", "emg_bursts", 0);
	put_attr(d, "peak_unit", "uV", 0);
	H5Dclose(d);
	H5Gclose(g);
	H5Tclose(ct);
	H5Tclose(et);
	H5Tclose(vt);
	H5Tclose(vs);
	H5Tclose(fs);
	H5Fclose(f);
}

static void check_header(const psg_header *h)
{
	OK(h->year == 2026 && h->hour == 22 && h->subsecond == 2500000 &&
	   h->duration == 900000000 && h->epoch_len == 300000000,
	   "start, sub-second, duration and epoch from the root attributes");
	OK(h->nchannels == 2 && !strcmp(h->channels[1].label, "Leg L") &&
	   psg_channel_rate(&h->channels[1]) == 512 && h->nroles == 2 &&
	   !strcmp(h->roles[1].role, "leg") && h->roles[1].channel == 1,
	   "channels, rates and roles from /channels");
	OK(h->nfeatures == 2 && !strcmp(h->features[1].name, "sws_unusable"),
	   "features: the /epochs columns, the categorical one included");
	OK(h->nevtypes == 1 && h->evtypes[0].nfields == 2 &&
	   !strcmp(h->evtypes[0].field[0], "kind") &&
	   !strcmp(h->evtypes[0].unit[1], "uV"),
	   "the event table with its fields and units");
}

static void check_records(psg_reader *rd)
{
	psg_record r;
	int nep = 0, nev = 0, st;
	double code[3] = {NAN, NAN, NAN}, kind[2] = {0, 0};
	int64_t onset[2] = {0, 0}, dur[2] = {0, 0}, ch[2] = {0, 0};
	psg_end end = {0};
	while ((st = psg_reader_next(rd, &r)) > 0) {
		if (r.kind == PSG_REC_EPOCH && r.epoch.epoch < 3) {
			nep++;
			for (int k = 0; k < r.epoch.n; k++)
				if (r.epoch.feature[k] == 1)
					code[r.epoch.epoch] = r.epoch.value[k];
		} else if (r.kind == PSG_REC_EVENT && nev < 2) {
			kind[nev] = r.event.values[0];
			onset[nev] = r.event.onset, dur[nev] = r.event.duration;
			ch[nev++] = r.event.channel;
		} else if (r.kind == PSG_REC_END) {
			end = r.end;
		}
	}
	OK(st == 0 && nep == 2 && code[0] == 0 && code[1] == 1 &&
	   isnan(code[2]), "epochs: sws_unusable usable, flat as codes 0, 1; "
	   "a row of NaN and \"\" is no record");
	OK(nev == 2 && kind[0] == 2 && kind[1] == 3,
	   "emg_bursts kind lm, spasm as codes 2, 3");
	OK(onset[0] == 125000000 && dur[0] == 20000000 && ch[0] == 1 &&
	   dur[1] == -1 && ch[1] == -1,
	   "onsets, durations (none: -1) and channels in ticks and indices");
	OK(end.duration == 900000000 && !strcmp(end.sha256, "ab") &&
	   end.nrecords == 4, "END: duration, SHA-256 and the record count");
}

int main(void)
{
	char path[] = "/tmp/test_result_src_XXXXXX", msg[512];
	int fd = mkstemp(path), st;
	close(fd);
	make_night(path);
	psg_reader *rd = psg_reader_open(path, NULL, &st, msg, sizeof msg);
	OK(!rd, "psg_reader_open does not read a result file (%s)", msg);
	rd = psg_reader_open_results(path, NULL, &st, msg, sizeof msg);
	OK(rd != NULL, "psg_reader_open_results does (%s)", rd ? "" : msg);
	if (rd) {
		check_header(psg_reader_header(rd));
		check_records(rd);
	}
	psg_reader_free(rd);
	unlink(path);
	return TAP_DONE();
}
