/*
 * wire.h -- little-endian encoding shared by the stream writer and reader.
 * The layout is specified in docs/stream.md; keep the two in step.
 */
#ifndef PSG_WIRE_H
#define PSG_WIRE_H

#include <stdint.h>
#include <string.h>

/* "\x89PSG\r\n\x1a\n": the high byte and CR/LF catch 7-bit and text-mode
   mangling, as in PNG. */
#define PSG_MAGIC "\x89PSG\r\n\x1a\n"
#define PSG_MAGIC_LEN 8

#define PSG_TAG_HEAD 0x44414548u /* "HEAD" */
#define PSG_TAG_DATA 0x41544144u /* "DATA" */
#define PSG_TAG_EVNT 0x544e5645u /* "EVNT" */
#define PSG_TAG_EPOC 0x434f5045u /* "EPOC" */
#define PSG_TAG_SUMM 0x4d4d5553u /* "SUMM" */
#define PSG_TAG_END  0x20444e45u /* "END " */
#define PSG_TAG_ARRY 0x59525241u /* "ARRY" (1.1) */

/* Largest record payload a reader accepts: bounds memory per record. */
#define PSG_MAX_PAYLOAD (64u << 20)
#define PSG_MAX_BLOCK (PSG_MAX_PAYLOAD / 4 - 64)

static inline void psg__put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static inline void psg__put_u64(unsigned char *p, uint64_t v)
{
	psg__put_u32(p, (uint32_t)v);
	psg__put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t psg__get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t psg__get_u64(const unsigned char *p)
{
	return psg__get_u32(p) | (uint64_t)psg__get_u32(p + 4) << 32;
}

static inline int psg__little_endian(void)
{
	const uint16_t one = 1;
	return *(const unsigned char *)&one == 1;
}

#endif
