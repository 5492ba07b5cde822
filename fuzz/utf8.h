/* utf8.h - strict UTF-8 checking for the fuzz targets, written apart from
 * the product's decoder (redis/json.c) so that it can judge it. */
#ifndef OBS_FUZZ_UTF8_H
#define OBS_FUZZ_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static inline int valid_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len = c < 0x80             ? 1
			     : (c & 0xe0) == 0xc0 ? 2
			     : (c & 0xf0) == 0xe0 ? 3
			     : (c & 0xf8) == 0xf0 ? 4
						  : 0;
		uint32_t cp = len == 1 ? c : len ? (uint32_t)(c & (0x7f >> len)) : 0;

		if (!len || i + len > n)
			return 0;
		for (size_t j = 1; j < len; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

#endif
