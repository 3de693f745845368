/* SPDX-License-Identifier: MIT */
/*
 * cmd_token.c — `cairn token keygen|issue|check`: make the Ed25519 key
 * pair, mint a player token with the secret key, check a token with the
 * public key.  The gateway verifies tokens the same way (auth.h).
 *
 * Exit status (every command's, cn_cli.h): 0 ok; 1 runtime failure (unreadable key, key
 * exists, token refused) with one line on stderr naming what is wrong and
 * what to do; 2 usage error.  Secret key bytes are wiped from memory after
 * use.  Runs on the main thread of a short-lived process; owns nothing
 * beyond its stack.  Docs: docs/protocol.md "Tokens".
 */
#include "commands.h"

#include "cn_cli.h"
#include "cn_err.h"
#include "cn_time.h"
#include "auth.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* Longest --ttl accepted: tokens are for one visit, ten years is plenty
 * and keeps issued + ttl far from int64 overflow. */
#define TOKEN_TTL_MAX_MS (10LL * 365 * 24 * 3600 * 1000)

static int token_usage(void)
{
    printf("usage: cairn token keygen|issue|check [flags]\n\n"
           "Player auth tokens (Ed25519).  The gateway checks ?token= with the public key.\n\n"
           "  keygen   make a key pair: --out FILE writes FILE (secret, 0600) and FILE.pub\n"
           "  issue    print a token for a player, signed with the secret key\n"
           "  check    verify a token with the public key and print its claims\n\n"
           "Run 'cairn token SUBCOMMAND --help' for its flags and defaults.\n");
    return CN_EXIT_OK;
}

static const char *key_err_hint(int rc)
{
    if (rc == CN_ENOENT)
        return "no such file";
    return cn_strerror(rc);
}

/* ------------------------------------------------------------------ */
/* keygen                                                              */
/* ------------------------------------------------------------------ */

static int token_keygen(int argc, char **argv)
{
    cn_flag flags[] = {
        {"out", "FILE", NULL,
         "secret key file to create (mode 0600); the public key goes to FILE.pub"},
    };
    cn_cli cli = {"cairn token keygen",
                  "--out FILE",
                  "Create an Ed25519 key pair for player tokens.",
                  flags,
                  1,
                  0,
                  0};
    int rc = cn_cli_parse(&cli, argc, argv);
    cn_cli_free(&cli);
    if (rc)
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    const char *out = cn_cli_str(&cli, "out");
    if (!out || !*out)
        return cn_cli_usage_error(&cli, "--out FILE is required");
    unsigned char pk[AUTH_TOKEN_PK_LEN], sk[AUTH_TOKEN_SK_LEN];
    rc = auth_token_keygen(pk, sk);
    if (!rc)
        rc = auth_token_write_keys(out, pk, sk);
    sodium_memzero(sk, sizeof(sk));
    if (rc == CN_EEXIST) {
        fprintf(stderr,
                "cairn token keygen: %s or %s.pub already exists; choose another --out or remove "
                "the old key\n",
                out, out);
        return CN_EXIT_FAIL;
    }
    if (rc) {
        fprintf(
            stderr,
            "cairn token keygen: cannot write %s: %s; check the directory exists and is writable\n",
            out, cn_strerror(rc));
        return CN_EXIT_FAIL;
    }
    printf("wrote %s (secret, keep private) and %s.pub (give to the gateway: --auth-key %s.pub)\n",
           out, out, out);
    return CN_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* issue                                                               */
/* ------------------------------------------------------------------ */

static int issue_claims(cn_cli *cli, auth_token_claims *c)
{
    const char *player = cn_cli_str(cli, "player"), *hunt = cn_cli_str(cli, "hunt");
    int64_t ttl = 0;
    if (!cn_cli_str(cli, "key"))
        return cn_cli_usage_error(
            cli, "--key FILE is required (the secret key from 'cairn token keygen')");
    if (!player || !cn_id_valid(player, strlen(player)))
        return cn_cli_usage_error(cli, "--player must be 1-%d characters of A-Z a-z 0-9 . _ : @ -",
                                  CN_ID_MAX);
    if (hunt && *hunt && !cn_id_valid(hunt, strlen(hunt)))
        return cn_cli_usage_error(cli, "--hunt must be 1-%d characters of A-Z a-z 0-9 . _ : @ -",
                                  CN_ID_MAX);
    if (cn_cli_duration_ms(cli, "ttl", &ttl))
        return CN_EXIT_USAGE;
    if (ttl <= 0 || ttl > TOKEN_TTL_MAX_MS)
        return cn_cli_usage_error(cli, "--ttl must be between 1ms and 3650d");
    memset(c, 0, sizeof(*c));
    memcpy(c->player, player, strlen(player));
    if (hunt)
        memcpy(c->hunt, hunt, strlen(hunt));
    c->issued_ms = cn_now_ms();
    c->expires_ms = c->issued_ms + ttl;
    return 0;
}

static int token_issue(int argc, char **argv)
{
    cn_flag flags[] = {
        {"key", "FILE", NULL, "secret key file (from 'cairn token keygen')"},
        {"player", "ID", NULL, "player id the token is for (1-64 of A-Z a-z 0-9 . _ : @ -)"},
        {"hunt", "ID", NULL, "restrict the token to one hunt (default: any hunt)"},
        {"ttl", "DURATION", "12h", "how long the token is valid (e.g. 90m, 12h, 7d)"},
    };
    cn_cli cli = {"cairn token issue",
                  "--key FILE --player ID [--hunt ID] [--ttl 12h]",
                  "Print a signed player token (url-safe base64) on stdout.",
                  flags,
                  4,
                  0,
                  0};
    int rc = cn_cli_parse(&cli, argc, argv);
    cn_cli_free(&cli);
    if (rc)
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    auth_token_claims c;
    if (issue_claims(&cli, &c))
        return CN_EXIT_USAGE;
    const char *key = cn_cli_str(&cli, "key");
    unsigned char sk[AUTH_TOKEN_SK_LEN];
    rc = auth_token_read_secret(key, sk);
    if (rc == AUTH_EKEYFILE) {
        fprintf(stderr,
                "cairn token issue: %s is not a cairn secret key (the .pub file is for checking); "
                "pass the file written by 'cairn token keygen --out'\n",
                key);
        return CN_EXIT_FAIL;
    }
    if (rc) {
        fprintf(stderr,
                "cairn token issue: cannot read secret key %s: %s; create one with 'cairn token "
                "keygen --out %s'\n",
                key, key_err_hint(rc), key);
        return CN_EXIT_FAIL;
    }
    char tok[AUTH_TOKEN_MAX_LEN];
    rc = auth_token_issue(sk, &c, tok, sizeof(tok));
    sodium_memzero(sk, sizeof(sk));
    if (rc) {
        fprintf(stderr, "cairn token issue: cannot sign: %s\n", cn_strerror(rc));
        return CN_EXIT_FAIL;
    }
    printf("%s\n", tok);
    return CN_EXIT_OK;
}

/* ------------------------------------------------------------------ */
/* check                                                               */
/* ------------------------------------------------------------------ */

static int check_report(int rc, const auth_token_claims *c, const char *key)
{
    char iss[32], exp[32];
    if (rc == 0 || rc == AUTH_ETOKENEXP) {
        cn_fmt_rfc3339_ms(c->issued_ms, iss);
        cn_fmt_rfc3339_ms(c->expires_ms, exp);
    }
    switch (rc) {
    case 0:
        printf("valid player=%s%s%s issued=%s expires=%s\n", c->player, c->hunt[0] ? " hunt=" : "",
               c->hunt, iss, exp);
        return CN_EXIT_OK;
    case AUTH_ETOKENEXP:
        fprintf(stderr, "cairn token check: expired at %s (player=%s); issue a new token\n", exp,
                c->player);
        return CN_EXIT_FAIL;
    case AUTH_ETOKENSIG:
        fprintf(stderr,
                "cairn token check: bad signature: not issued with the secret key matching %s\n",
                key);
        return CN_EXIT_FAIL;
    case AUTH_ETOKEN:
        fprintf(stderr, "cairn token check: malformed token; pass the whole line printed by 'cairn "
                        "token issue'\n");
        return CN_EXIT_FAIL;
    default:
        fprintf(stderr, "cairn token check: %s\n", cn_strerror(rc));
        return CN_EXIT_FAIL;
    }
}

static int token_check(int argc, char **argv)
{
    cn_flag flags[] = {
        {"key", "FILE", NULL, "public key file (FILE.pub from 'cairn token keygen')"},
    };
    cn_cli cli = {"cairn token check",
                  "--key FILE.pub TOKEN",
                  "Verify a token; print its claims (exit 0) or why it is refused (exit 1).",
                  flags,
                  1,
                  1,
                  1};
    int rc = cn_cli_parse(&cli, argc, argv);
    if (rc) {
        cn_cli_free(&cli);
        return rc == CN_DONE ? CN_EXIT_OK : CN_EXIT_USAGE;
    }
    const char *tok = cli.pos[0];
    cn_cli_free(&cli);
    const char *key = cn_cli_str(&cli, "key");
    if (!key)
        return cn_cli_usage_error(&cli, "--key FILE.pub is required");
    unsigned char pk[AUTH_TOKEN_PK_LEN];
    rc = auth_token_read_public(key, pk);
    if (rc == AUTH_EKEYFILE) {
        fprintf(stderr,
                "cairn token check: %s is not a cairn public key; pass the .pub file written by "
                "'cairn token keygen'\n",
                key);
        return CN_EXIT_FAIL;
    }
    if (rc) {
        fprintf(stderr, "cairn token check: cannot read public key %s: %s\n", key,
                key_err_hint(rc));
        return CN_EXIT_FAIL;
    }
    auth_token_claims c;
    rc = auth_token_verify(pk, tok, strlen(tok), cn_now_ms(), &c);
    return check_report(rc, &c, key);
}

int cmd_token(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(
            stderr,
            "cairn token: missing subcommand (keygen, issue or check); see 'cairn token --help'\n");
        return CN_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0)
        return token_usage();
    if (strcmp(sub, "keygen") == 0)
        return token_keygen(argc - 1, argv + 1);
    if (strcmp(sub, "issue") == 0)
        return token_issue(argc - 1, argv + 1);
    if (strcmp(sub, "check") == 0)
        return token_check(argc - 1, argv + 1);
    fprintf(stderr, "cairn token: unknown subcommand '%s'; use keygen, issue or check\n", sub);
    return CN_EXIT_USAGE;
}
