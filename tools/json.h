/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal JSON string encoding for vbtrace's NDJSON output. */
#ifndef VB_JSON_H
#define VB_JSON_H

#include <stddef.h>
#include <stdio.h>

/*
 * Escape n bytes of src as the inside of a JSON string (no quotes).
 * Writes at most cap bytes including the NUL, like snprintf, and returns
 * the length the full result needs. Invalid UTF-8 becomes U+FFFD.
 */
size_t json_escape(char *dst, size_t cap, const char *src, size_t n);
/* Print "src" quoted and escaped. */
void json_put_str(FILE *f, const char *src, size_t n);

#endif
