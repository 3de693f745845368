/* SPDX-License-Identifier: MIT */
/*
 * cn_err.c — text and names for cn_err codes, and the errno mapping.
 * Pure functions over a static table; callable from any thread.
 */
#include "cn_err.h"

#include <errno.h>
#include <stddef.h>

struct cn__err_desc {
    int code;
    const char *name;
    const char *text;
};

static const struct cn__err_desc cn__errs[] = {
#define CN__ERR_ROW(name, val, text) {val, #name, text},
    CN_ERR_LIST(CN__ERR_ROW)
#undef CN__ERR_ROW
};

static const struct cn__err_desc *cn__err_find(int err)
{
    for (size_t i = 0; i < sizeof(cn__errs) / sizeof(cn__errs[0]); i++)
        if (cn__errs[i].code == err)
            return &cn__errs[i];
    return NULL;
}

const char *cn_strerror(int err)
{
    const struct cn__err_desc *d = cn__err_find(err);
    return d ? d->text : "unknown error";
}

const char *cn_errname(int err)
{
    const struct cn__err_desc *d = cn__err_find(err);
    return d ? d->name : "CN_EUNKNOWN";
}

int cn_err_from_errno(int e)
{
    switch (e) {
    case 0:
        return CN_OK;
    case ENOMEM:
        return CN_ENOMEM;
    case EINVAL:
        return CN_EINVAL;
    case EIO:
        return CN_EIO;
    case ENOSPC:
    case EDQUOT:
        return CN_ENOSPC;
    case ENOENT:
        return CN_ENOENT;
    case EEXIST:
        return CN_EEXIST;
    case ERANGE:
    case EOVERFLOW:
        return CN_ERANGE;
    case ETIMEDOUT:
        return CN_ETIMEDOUT;
    case EAGAIN:
        return CN_AGAIN;
    case EFBIG:
        return CN_ETOOBIG;
    case EBUSY:
        return CN_EBUSY;
    case EACCES:
    case EPERM:
    case EROFS:
        return CN_EPERM;
    default:
        return CN_ESYS;
    }
}
