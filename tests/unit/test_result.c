/* test_result.c -- psg_result_* (pipeline/result.c): errors, and a small
   file built here with the kinds of columns the schema allows (integer,
   float, variable and fixed strings, an enum) plus one it does not show;
   a 1.x file's categorical codes read as the names 2.0 stores. */
#include "psg.h"
#include "tap.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct row {
	double onset;
	int32_t idx;
	const char *label;
	char fixed[4];
	int8_t kind;
	int arr[2];
} row;

static hid_t vstr(void)
{
	hid_t s = H5Tcopy(H5T_C_S1);
	H5Tset_size(s, H5T_VARIABLE);
	H5Tset_cset(s, H5T_CSET_UTF8);
	return s;
}

static void put_text(hid_t obj, const char *name, const char *text)
{
	hid_t s = vstr(), sp = H5Screate(H5S_SCALAR);
	hid_t a = H5Acreate2(obj, name, s, sp, H5P_DEFAULT, H5P_DEFAULT);
	H5Awrite(a, s, &text);
	H5Aclose(a);
	H5Sclose(sp);
	H5Tclose(s);
}

static hid_t row_type(void)
{
	hid_t c = H5Tcreate(H5T_COMPOUND, sizeof(row));
	hid_t s = vstr(), fx = H5Tcopy(H5T_C_S1);
	hid_t e = H5Tenum_create(H5T_NATIVE_SCHAR);
	hsize_t two = 2;
	hid_t ar = H5Tarray_create2(H5T_NATIVE_INT, 1, &two);
	signed char v1 = 1, v2 = 2;
	H5Tset_size(fx, 4);
	H5Tenum_insert(e, "twitch", &v1);
	H5Tenum_insert(e, "lm", &v2);
	H5Tinsert(c, "onset", HOFFSET(row, onset), H5T_NATIVE_DOUBLE);
	H5Tinsert(c, "idx", HOFFSET(row, idx), H5T_NATIVE_INT32);
	H5Tinsert(c, "label", HOFFSET(row, label), s);
	H5Tinsert(c, "fixed", HOFFSET(row, fixed), fx);
	H5Tinsert(c, "kind", HOFFSET(row, kind), e);
	H5Tinsert(c, "arr", HOFFSET(row, arr), ar);
	H5Tclose(s);
	H5Tclose(fx);
	H5Tclose(e);
	H5Tclose(ar);
	return c;
}

static void make_file(const char *path, const char *schema)
{
	row rows[3] = {{1.5, 7, "a", "xyz", 1, {0, 0}},
		       {2.5, -1, "\xc3\xa9t\xc3\xa9", "ab", 2, {0, 0}},
		       {NAN, 3, "", "", 3, {0, 0}}};
	hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	put_text(f, "schema_version", schema);
	put_text(f, "start_time", "2026-01-01T22:00:00.0000000");
	hid_t sp = H5Screate(H5S_SCALAR), d;
	double dur = 3600;
	hid_t a = H5Acreate2(f, "duration_s", H5T_IEEE_F64LE, sp, H5P_DEFAULT,
			     H5P_DEFAULT);
	H5Awrite(a, H5T_NATIVE_DOUBLE, &dur);
	H5Aclose(a);
	hid_t g = H5Gcreate2(f, "events", H5P_DEFAULT, H5P_DEFAULT,
			     H5P_DEFAULT);
	hid_t t = row_type();
	hsize_t n = 3;
	hid_t sp3 = H5Screate_simple(1, &n, NULL);
	d = H5Dcreate2(g, "emg_bursts", t, sp3, H5P_DEFAULT, H5P_DEFAULT,
		       H5P_DEFAULT);
	H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
	put_text(d, "type", "emg bursts");
	put_text(d, "onset_unit", "s");
	H5Dclose(d);
	H5Gclose(g);
	/* /epochs with psg-sws's sws_unusable as 1.x stored it: a code */
	double ep[3][2] = {{0, 0}, {30, 2}, {60, NAN}};
	hid_t et = H5Tcreate(H5T_COMPOUND, sizeof ep[0]);
	H5Tinsert(et, "onset", 0, H5T_NATIVE_DOUBLE);
	H5Tinsert(et, "sws_unusable", 8, H5T_NATIVE_DOUBLE);
	d = H5Dcreate2(f, "epochs", et, sp3, H5P_DEFAULT, H5P_DEFAULT,
		       H5P_DEFAULT);
	H5Dwrite(d, et, H5S_ALL, H5S_ALL, H5P_DEFAULT, ep);
	H5Dclose(d);
	H5Tclose(et);
	g = H5Gcreate2(f, "summary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
	d = H5Dcreate2(g, "lm_index", H5T_IEEE_F64LE, sp, H5P_DEFAULT,
		       H5P_DEFAULT, H5P_DEFAULT);
	dur = 12.5;
	H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &dur);
	put_text(d, "unit", "1/h");
	put_text(d, "name", "lm_index");
	H5Dclose(d);
	H5Gclose(g);
	H5Sclose(sp3);
	H5Sclose(sp);
	H5Tclose(t);
	H5Fclose(f);
}

static void check_codes(const psg_result *r)
{
	const psg_table *t = psg_result_table(r, "epochs");
	int c = psg_table_column(t, "sws_unusable");
	OK(c >= 0 && t->col[c].is_text &&
	   !strcmp(t->col[c].text[0], "usable") &&
	   !strcmp(t->col[c].text[1], "saturated") &&
	   !strcmp(t->col[c].text[2], ""),
	   "1.x: sws_unusable codes 0, 2, NaN read as usable, saturated, \"\"");
	c = psg_table_column(t, "onset");
	OK(c >= 0 && !t->col[c].is_text && t->col[c].num[1] == 30,
	   "1.x: other numbers stay numbers");
}

static void check_table(const psg_result *r)
{
	const psg_table *t = psg_result_table(r, "emg_bursts");
	OK(t && t->nrows == 3, "the event table has its 3 rows");
	if (!t)
		return;
	OK(!strcmp(t->type, "emg bursts"), "its type is the attribute (%s)",
	   t->type);
	OK(t->ncols == 5, "5 columns read, the array one left out (%d)",
	   t->ncols);
	int on = psg_table_column(t, "onset"), ix = psg_table_column(t, "idx");
	int lb = psg_table_column(t, "label"), fx = psg_table_column(t, "fixed");
	int kd = psg_table_column(t, "kind");
	OK(on >= 0 && t->col[on].num[1] == 2.5 && isnan(t->col[on].num[2]) &&
	   !strcmp(t->col[on].unit, "s"), "float column, NaN and unit kept");
	OK(ix >= 0 && t->col[ix].num[1] == -1, "integers become doubles");
	OK(lb >= 0 && t->col[lb].is_text &&
	   !strcmp(t->col[lb].text[1], "\xc3\xa9t\xc3\xa9") &&
	   !strcmp(t->col[lb].text[2], ""), "UTF-8 strings");
	OK(fx >= 0 && !strcmp(t->col[fx].text[0], "xyz"),
	   "fixed-length strings");
	OK(kd >= 0 && t->col[kd].is_text && !strcmp(t->col[kd].text[0],
	   "twitch") && !strcmp(t->col[kd].text[1], "lm") &&
	   !strcmp(t->col[kd].text[2], "3"), "enum values by their names");
	OK(psg_table_column(t, "arr") == PSG_ERR_NOTFOUND,
	   "no such column: PSG_ERR_NOTFOUND");
}

int main(void)
{
	char path[] = "/tmp/test_result_XXXXXX";
	int fd = mkstemp(path), st = 0;
	close(fd);
	psg_result_close(NULL);
	OK(!psg_result_open("/nonexistent/x.h5", &st) && st == PSG_ERR_IO,
	   "a missing file is PSG_ERR_IO (%s)", psg_result_errmsg(NULL));
	OK(!psg_result_open(path, &st) && st == PSG_ERR_FORMAT,
	   "an empty file is PSG_ERR_FORMAT (%s)", psg_result_errmsg(NULL));
	make_file(path, "3.0");
	OK(!psg_result_open(path, &st) && st == PSG_ERR_VERSION,
	   "schema 3.0 is PSG_ERR_VERSION (%s)", psg_result_errmsg(NULL));
	make_file(path, "2.0");
	psg_result *r2 = psg_result_open(path, &st);
	OK(r2 && st == PSG_OK, "a schema 2.0 file opens (%s)",
	   r2 ? "" : psg_result_errmsg(NULL));
	psg_result_close(r2);
	make_file(path, "1.3");
	psg_result *r = psg_result_open(path, &st);
	OK(r && st == PSG_OK, "a schema 1.3 file opens (%s)",
	   r ? "" : psg_result_errmsg(NULL));
	OK(!strcmp(psg_result_attr(r, "start_time"),
		   "2026-01-01T22:00:00.0000000") &&
	   psg_result_attr_num(r, "duration_s") == 3600 &&
	   !strcmp(psg_result_attr(r, "duration_s"), "3600") &&
	   !*psg_result_attr(r, "nothing"), "root attributes");
	OK(!psg_result_table(r, "segments") && psg_result_nevents(r) == 1,
	   "absent tables are NULL");
	check_table(r);
	check_codes(r);
	const psg_figure *fg = psg_result_figure(r, 0);
	OK(psg_result_nfigures(r) == 1 && fg && fg->value == 12.5 &&
	   !strcmp(fg->unit, "1/h"), "the summary figure and its unit");
	psg_result_close(r);
	unlink(path);
	return TAP_DONE();
}
