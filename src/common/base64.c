/* SPDX-License-Identifier: MIT */
#include "common/base64.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *ferry_base64_encode(const void *data, size_t len)
{
        const unsigned char *in = data;
        char *out = ferry_xmalloc(4 * ((len + 2) / 3) + 1);
        size_t o = 0;

        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < len)
                        v |= in[i + 2];
                out[o++] = b64[(v >> 18) & 63];
                out[o++] = b64[(v >> 12) & 63];
                out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
                out[o++] = i + 2 < len ? b64[v & 63] : '=';
        }
        out[o] = '\0';
        return out;
}

static int sextet(char ch)
{
        if (ch >= 'A' && ch <= 'Z')
                return ch - 'A';
        if (ch >= 'a' && ch <= 'z')
                return ch - 'a' + 26;
        if (ch >= '0' && ch <= '9')
                return ch - '0' + 52;
        if (ch == '+')
                return 62;
        if (ch == '/')
                return 63;
        return -1;
}

int ferry_base64_decode(const char *in, size_t len, unsigned char **ret, size_t *ret_len)
{
        unsigned char *out = ferry_xmalloc(len / 4 * 3 + 4);
        uint32_t acc = 0;
        int bits = 0;
        size_t o = 0;
        bool pad = false;

        for (size_t i = 0; i < len; i++) {
                char ch = in[i];
                int v;
                if (ch == '\n' || ch == '\r')
                        continue;
                if (ch == '=') {
                        pad = true;
                        continue;
                }
                if (pad || (v = sextet(ch)) < 0) {
                        free(out);
                        return -EINVAL;
                }
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[o++] = (unsigned char)(acc >> bits);
                }
        }
        if (bits >= 6) { /* a single dangling character cannot encode a byte */
                free(out);
                return -EINVAL;
        }
        out[o] = '\0';
        *ret = out;
        *ret_len = o;
        return 0;
}

int ferry_base64_decode_strict(const char *s, unsigned char **ret, size_t *ret_len)
{
        size_t n = strlen(s), pad = 0;

        while (n > 0 && s[n - 1] == '=' && pad < 2) {
                n--;
                pad++;
        }
        if ((n + pad) % 4 != 0 && pad > 0)
                return -EINVAL;
        if (n % 4 == 1)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '\n' || s[i] == '\r' || s[i] == '=')
                        return -EINVAL;
        return ferry_base64_decode(s, n, ret, ret_len);
}
