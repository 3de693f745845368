/* SPDX-License-Identifier: MIT */
/*
 * cn_time.c — clocks and parsing of durations, sizes and RFC 3339 times.
 * Pure apart from reading the clocks; thread-safe.
 */
#include "cn_time.h"

#include "cn_err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t cn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cn_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Parse a leading non-negative decimal (with optional fraction); return the
 * suffix pointer or NULL. */
static const char *cn__num(const char *s, double *v)
{
    if (!s || !isdigit((unsigned char)*s))
        return NULL;
    errno = 0;
    char *end;
    *v = strtod(s, &end);
    if (errno || end == s || *v < 0)
        return NULL;
    return end;
}

typedef struct cn__unit {
    const char *sfx;
    double mult;
} cn__unit;

/* A number with one of the given unit suffixes, scaled, at most max. */
static int cn__parse_scaled(const char *s, const cn__unit *units, size_t n, double max, double *out)
{
    double v;
    const char *sfx = cn__num(s, &v);
    if (!sfx)
        return CN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(sfx, units[i].sfx) == 0) {
            *out = v * units[i].mult;
            return *out > max ? CN_ERANGE : 0;
        }
    }
    return CN_EINVAL;
}

int cn_parse_duration_ms(const char *s, int64_t *out_ms)
{
    static const cn__unit units[] = {
        {"", 1e3}, {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3},
    };
    double ms;
    int rc = cn__parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 9.2e18, &ms);
    if (!rc)
        *out_ms = (int64_t)ms;
    return rc;
}

int cn_parse_size(const char *s, uint64_t *out)
{
    static const cn__unit units[] = {
        {"", 1},
        {"B", 1},
        {"KiB", 1024.0},
        {"MiB", 1048576.0},
        {"GiB", 1073741824.0},
        {"k", 1e3},
        {"kB", 1e3},
        {"KB", 1e3},
        {"MB", 1e6},
        {"GB", 1e9},
        {"K", 1024.0},
        {"M", 1048576.0},
        {"G", 1073741824.0},
    };
    double b;
    int rc = cn__parse_scaled(s, units, sizeof(units) / sizeof(units[0]), 1.8e19, &b);
    if (!rc)
        *out = (uint64_t)b;
    return rc;
}

int cn_parse_rfc3339_ms(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    /* Exact widths: sscanf alone would take "2026-1-5T1:2:3Z". */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (size_t i = 0; s && i < sizeof(shape) - 1; i++) {
        char c = s[i];
        int ok = shape[i] == 'd'   ? isdigit((unsigned char)c)
                 : shape[i] == 'T' ? (c == 'T' || c == 't' || c == ' ')
                                   : c == shape[i];
        if (!ok)
            return CN_EINVAL;
    }
    if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return CN_EINVAL;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
        sec > 60)
        return CN_EINVAL;
    const char *p = s + n;
    int64_t frac_ms = 0;
    if (*p == '.') {
        int digits = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (!digits)
            return CN_EINVAL;
        for (; digits < 3; digits++)
            frac_ms *= 10;
    }
    int64_t off_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || oh > 23 || om > 59)
            return CN_EINVAL;
        off_s = (oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return CN_EINVAL;
    }
    if (*p)
        return CN_EINVAL;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    *out_ms = ((int64_t)t - off_s) * 1000 + frac_ms;
    return 0;
}

void cn_fmt_rfc3339_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int rem = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    /* Years past 9999 do not fit RFC 3339; clamp so the text stays bounded. */
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", year, (unsigned)(tm.tm_mon + 1) % 100u,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)rem % 1000u);
}
