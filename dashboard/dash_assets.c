/* SPDX-License-Identifier: MIT */
/*
 * dash_assets.c — the dashboard's static files, compiled into the binary
 * by cmake/embed.cmake from the .html, .js and .css files of dashboard/ (no build step at run
 * time, no files to install, no CDN: venues are often offline).  Looks a
 * URL path up and gives the bytes with their Content-Type.  Read-only
 * data; any thread.
 */
#include "dash_http.h"

#include "cn_embed.h"
#include "cn_err.h"

#include <string.h>

CN_EMBEDDED(dash_files);

static const char *dash__ctype(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

int dash_serve_asset(const char *path, const unsigned char **body, size_t *len, const char **ctype)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < dash_files_count; i++) {
        if (strcmp(dash_files[i].path, path) != 0)
            continue;
        *body = dash_files[i].data;
        *len = dash_files[i].len;
        *ctype = dash__ctype(path);
        return 0;
    }
    return CN_ENOENT;
}
