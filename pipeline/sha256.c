/*
 * sha256.c -- SHA-256 (FIPS 180-4) of source files, so every result can
 * name the exact recording it came from.  psg-read hashes on a second
 * thread while edflib reads the same file: the page cache serves both and
 * the hash costs no wall time on a 2-core machine.
 */
#include "internal.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t used;
} sha256;

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) ((x) >> (n) | (x) << (32 - (n)))

static void compress(sha256 *s, const unsigned char *p)
{
	uint32_t w[64], a[8];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
			      (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
			      (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(a, s->h, sizeof a);
	uint32_t A = a[0], B = a[1], C = a[2], D = a[3], E = a[4], F = a[5],
		 G = a[6], H = a[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = ROR(E, 6) ^ ROR(E, 11) ^ ROR(E, 25);
		uint32_t ch = (E & F) ^ (~E & G);
		uint32_t t1 = H + S1 + ch + K[i] + w[i];
		uint32_t S0 = ROR(A, 2) ^ ROR(A, 13) ^ ROR(A, 22);
		uint32_t mj = (A & B) ^ (A & C) ^ (B & C);
		H = G, G = F, F = E, E = D + t1;
		D = C, C = B, B = A, A = t1 + S0 + mj;
	}
	a[0] = A, a[1] = B, a[2] = C, a[3] = D;
	a[4] = E, a[5] = F, a[6] = G, a[7] = H;
	for (int i = 0; i < 8; i++)
		s->h[i] += a[i];
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHA_NI 1

/* The x86 SHA extensions do four rounds per two instructions: about six
   times the portable code, which makes hashing a night nearly free. */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_ni(uint32_t h[8], const unsigned char *p, size_t blocks)
{
	const __m128i mask = _mm_set_epi64x(0x0c0d0e0f08090a0bLL,
					    0x0405060700010203LL);
	__m128i t = _mm_loadu_si128((const __m128i *)&h[0]);
	__m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]);
	t = _mm_shuffle_epi32(t, 0xb1);              /* CDAB */
	s1 = _mm_shuffle_epi32(s1, 0x1b);            /* EFGH */
	__m128i s0 = _mm_alignr_epi8(t, s1, 8);      /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xf0);           /* CDGH */
	for (; blocks--; p += 64) {
		__m128i abef = s0, cdgh = s1, w[4];
		for (int g = 0; g < 16; g++) {
			__m128i m;
			if (g < 4) {
				m = _mm_shuffle_epi8(_mm_loadu_si128(
					(const __m128i *)(p + 16 * g)), mask);
			} else {
				m = _mm_sha256msg1_epu32(w[g & 3],
							 w[(g + 1) & 3]);
				m = _mm_add_epi32(m, _mm_alignr_epi8(
					w[(g + 3) & 3], w[(g + 2) & 3], 4));
				m = _mm_sha256msg2_epu32(m, w[(g + 3) & 3]);
			}
			w[g & 3] = m;
			__m128i k = _mm_add_epi32(m, _mm_loadu_si128(
				(const __m128i *)&K[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, k);
			k = _mm_shuffle_epi32(k, 0x0e);
			s0 = _mm_sha256rnds2_epu32(s0, s1, k);
		}
		s0 = _mm_add_epi32(s0, abef);
		s1 = _mm_add_epi32(s1, cdgh);
	}
	t = _mm_shuffle_epi32(s0, 0x1b);             /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xb1);            /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xf0);           /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);              /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], s0);
	_mm_storeu_si128((__m128i *)&h[4], s1);
}

static int cpu_has_sha(void)
{
	unsigned a, b, c, d;
	if (getenv("PSG_NO_SHA_NI"))   /* lets the tests check both paths */
		return 0;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) ||
	    !(c & bit_SSSE3))
		return 0;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
}
#endif

/* Compresses whole 64-byte blocks with the fastest code this CPU has. */
static void compress_blocks(sha256 *s, const unsigned char *p, size_t n)
{
#ifdef HAVE_SHA_NI
	static int ni = -1;
	if (ni < 0)
		ni = cpu_has_sha();
	if (ni) {
		compress_ni(s->h, p, n);
		return;
	}
#endif
	for (; n--; p += 64)
		compress(s, p);
}

static void sha_init(sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
		0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	memcpy(s->h, iv, sizeof iv);
	s->len = 0;
	s->used = 0;
}

static void sha_update(sha256 *s, const unsigned char *p, size_t n)
{
	s->len += n;
	if (s->used) {
		size_t k = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->buf + s->used, p, k);
		s->used += k, p += k, n -= k;
		if (s->used < 64)
			return;
		compress_blocks(s, s->buf, 1);
		s->used = 0;
	}
	compress_blocks(s, p, n / 64);
	p += n / 64 * 64;
	n %= 64;
	memcpy(s->buf, p, n);
	s->used = n;
}

static void sha_hex(sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	unsigned char pad[72] = {0x80};
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (unsigned char)(bits >> (56 - 8 * i));
	sha_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

int psg_sha256_file(const char *path, char out[65])
{
	enum { CHUNK = 1 << 20 };
	sha256 s;
	int fd = open(path, O_RDONLY);
	unsigned char *buf = malloc(CHUNK);
	ssize_t k = 0;
	out[0] = '\0';
	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return fd < 0 ? PSG_ERR_IO : PSG_ERR_NOMEM;
	}
	sha_init(&s);
	while ((k = read(fd, buf, CHUNK)) > 0)
		sha_update(&s, buf, (size_t)k);
	close(fd);
	free(buf);
	if (k < 0)
		return PSG_ERR_IO;
	sha_hex(&s, out);
	return PSG_OK;
}

struct psg_hasher {
	pthread_t thread;
	char *path;
	char hex[65];
};

static void *hash_main(void *arg)
{
	psg_hasher *hs = arg;
	psg_sha256_file(hs->path, hs->hex);
	return NULL;
}

psg_hasher *psg__hasher_start(const char *path)
{
	psg_hasher *hs = calloc(1, sizeof *hs);
	if (!hs || !(hs->path = strdup(path)) ||
	    pthread_create(&hs->thread, NULL, hash_main, hs)) {
		if (hs)
			free(hs->path);
		free(hs);
		return NULL;
	}
	return hs;
}

void psg__hasher_finish(psg_hasher *hs, char out[65])
{
	out[0] = '\0';
	if (!hs)
		return;
	pthread_join(hs->thread, NULL);
	memcpy(out, hs->hex, 65);
	free(hs->path);
	free(hs);
}
