/*
 * dispatch.c - match a request against the route table and apply what each row
 * declares (dispatch.h). Every refusal names what was wrong and what would be right;
 * values from the client are shown percent-encoded where they are not plain text.
 *
 * Limits: a path is matched only up to ROUTE_PATH_MAX decoded bytes; a route declares
 * at most QUERY_MAX_PARAMS query parameters (the repeat check is a bit mask).
 */
#include "server/dispatch.h"

#include <ctype.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"
#include "data/farm.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

#define QUERY_MAX_PARAMS 32
#define SHOW_MAX 128	/* bytes of a client's value shown in a message */

#define ID_RULE "an id is 1-64 characters a-z, 0-9, '-' and '_', not starting with '-'"
#define FILE_RULE "a file name is 1-255 bytes without '/' or control characters, " \
	"not '.' or '..'"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void dispatch_decode_path(struct request *req, const char *raw_uri)
{
	size_t n = 0;

	for (const char *p = raw_uri; *p && *p != '?'; p++) {
		char c = *p;

		if (c == '%' && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
			c = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
			p += 2;
		}
		if (n == ROUTE_PATH_MAX) {
			req->path[0] = '\0';
			req->path_len = ROUTE_PATH_OVERLONG;
			return;
		}
		req->path[n++] = c;
	}
	req->path[n] = '\0';
	req->path_len = n;
}

const char *dispatch_show(char *out, size_t cap, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c >= 0x80 ? utf8_seq_len(s + i, n - i) : 1;
		bool plain = c >= 0x80 ? k > 0 : (c >= 0x20 && c < 0x7f && c != '%');
		size_t need = plain ? k : 3;

		if (o + need + 4 > cap) {	/* room for "..." and the NUL */
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		} else {
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

/* ---- matching ---- */

struct segment {
	const char *p;
	size_t len;
};

/*
 * Match the n bytes of path against pattern; {name} takes one whole segment (1 byte or
 * more, NUL bytes included), captured into seg[] when seg is not NULL.
 */
static bool match(const char *pattern, const char *path, size_t n, struct segment *seg,
		  size_t *nseg)
{
	const char *p = pattern;
	size_t u = 0, ns = 0;

	while (*p && u < n) {
		if (*p == '{') {
			const char *end = memchr(path + u, '/', n - u);
			size_t len = end ? (size_t)(end - (path + u)) : n - u;

			if (len == 0 || ns >= ROUTE_MAX_PARAMS || !(p = strchr(p, '}')))
				return false;
			if (seg)
				seg[ns] = (struct segment){ path + u, len };
			ns++;
			u += len;
			p++;
		} else if (*p++ != path[u++]) {
			return false;
		}
	}
	if (*p || u < n)
		return false;
	if (nseg)
		*nseg = ns;
	return true;
}

/* The name of the i-th {name} of pattern, into out. */
static const char *param_name(const char *pattern, size_t i, char *out, size_t cap)
{
	const char *p = pattern;

	out[0] = '\0';
	while ((p = strchr(p, '{'))) {
		const char *end = strchr(p, '}');

		if (!end)
			break;
		if (i-- == 0) {
			snprintf(out, cap, "%.*s", (int)(end - p - 1), p + 1);
			break;
		}
		p = end;
	}
	return out;
}

/*
 * Refuse a path no route takes: a NUL or invalid UTF-8 in it (400), else 405 (with
 * `allow`, the methods the path takes, when not empty) or 404.
 */
static void refuse_path(struct request *req, struct reply *rep, const char *allow)
{
	char shown[SHOW_MAX];

	if (req->path_len == ROUTE_PATH_OVERLONG) {
		reply_error(rep, 404, "not_found", "no route for a path of over %d bytes",
			    ROUTE_PATH_MAX);
		return;
	}
	dispatch_show(shown, sizeof(shown), req->path, req->path_len);
	if (memchr(req->path, '\0', req->path_len)) {
		reply_error(rep, 400, "bad_request", "invalid path '%s': it holds a NUL byte",
			    shown);
	} else if (!utf8_valid(req->path, req->path_len)) {
		reply_error(rep, 400, "bad_request", "invalid path '%s': not valid UTF-8",
			    shown);
	} else if (allow[0]) {
		reply_error(rep, 405, "method_not_allowed",
			    "method %s is not allowed on '%s'; allowed: %s", req->method, shown,
			    allow);
		snprintf(rep->allow, sizeof(rep->allow), "%s", allow);
	} else {
		reply_error(rep, 404, "not_found", "no route for '%s'", shown);
	}
}

/* Check the path's {name} segments against the id alphabet and copy them to params. */
static bool take_params(struct request *req, const struct route *r, const struct segment *seg,
			size_t nseg, struct reply *rep)
{
	char name[32], shown[SHOW_MAX];

	for (size_t i = 0; i < nseg; i++) {
		char id[FARM_ID_MAX + 1];
		bool ok = seg[i].len <= FARM_ID_MAX && !memchr(seg[i].p, '\0', seg[i].len);

		if (ok) {
			memcpy(id, seg[i].p, seg[i].len);
			id[seg[i].len] = '\0';
			ok = farm_id_valid(id);
		}
		if (!ok) {
			reply_error(rep, 400, "bad_request", "invalid %s '%s' in the path '%s': %s",
				    param_name(r->pattern, i, name, sizeof(name)),
				    dispatch_show(shown, sizeof(shown), seg[i].p, seg[i].len),
				    r->pattern, ID_RULE);
			return false;
		}
		memcpy(req->params[i], id, seg[i].len + 1);
	}
	req->nparams = nseg;
	return true;
}

/* ---- query parameters ---- */

enum param_kind { PARAM_TEXT, PARAM_ID, PARAM_FILE, PARAM_FORMAT };

struct query_check {
	const struct route *route;
	struct reply *rep;
	uint32_t seen;		/* bit i: the i-th declared parameter was given */
	const char *format;	/* ?format= on a ROUTE_CSV route */
	bool failed;
};

/*
 * Find the key among the route's declared parameters: its index (format, on ROUTE_CSV
 * routes, comes after the declared ones) and kind; -1 when not declared.
 */
static int param_find(const struct route *r, const char *key, size_t klen,
		      enum param_kind *kind)
{
	const char *p = r->query ? r->query : "";
	int i = 0;

	while (*p) {
		size_t tok = strcspn(p, " "), nlen = strcspn(p, ": ");

		if (tok && nlen == klen && !memcmp(p, key, klen)) {
			*kind = PARAM_TEXT;
			if (tok > nlen && !strncmp(p + nlen, ":id", tok - nlen))
				*kind = PARAM_ID;
			else if (tok > nlen && !strncmp(p + nlen, ":file", tok - nlen))
				*kind = PARAM_FILE;
			return i;
		}
		i += tok > 0;
		p += tok;
		p += strspn(p, " ");
	}
	if ((r->flags & ROUTE_CSV) && klen == 6 && !memcmp(key, "format", 6)) {
		*kind = PARAM_FORMAT;
		return i;
	}
	return -1;
}

/* "a, b, c" from a space-separated list, dropping each word's ":kind". */
static size_t join_words(const char *words, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (const char *p = words ? words : ""; *p && o < cap;) {
		size_t tok = strcspn(p, " "), nlen = strcspn(p, ": ");

		if (tok)
			o += (size_t)snprintf(out + o, cap - o, "%s%.*s", o ? ", " : "",
					      (int)nlen, p);
		p += tok;
		p += strspn(p, " ");
	}
	return o < cap ? o : cap - 1;
}

/* The route's parameter names (with format on ROUTE_CSV routes), for a message. */
static const char *param_list(const struct route *r, char *out, size_t cap)
{
	size_t o = join_words(r->query, out, cap);

	if (r->flags & ROUTE_CSV)
		snprintf(out + o, cap - o, "%sformat", o ? ", " : "");
	return out;
}

static bool file_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > 255 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static MHD_Result_t check_param(void *cls, enum MHD_ValueKind kind, const char *key,
				   size_t klen, const char *value, size_t vlen)
{
	struct query_check *qc = cls;
	const struct route *r = qc->route;
	char shown[SHOW_MAX], vshown[SHOW_MAX], list[512];
	enum param_kind pk = PARAM_TEXT;
	int i;

	(void)kind;
	dispatch_show(shown, sizeof(shown), key, klen);
	if (strlen(key) != klen || !utf8_valid(key, klen) ||
	    (i = param_find(r, key, klen, &pk)) < 0) {
		if (!(r->query && *r->query) && !(r->flags & ROUTE_CSV))
			reply_error(qc->rep, 400, "bad_request",
				    "unknown query parameter '%s': %s %s takes none", shown,
				    r->method, r->pattern);
		else
			reply_error(qc->rep, 400, "bad_request",
				    "unknown query parameter '%s' for %s %s: use %s", shown,
				    r->method, r->pattern, param_list(r, list, sizeof(list)));
		goto refused;
	}
	if (i < QUERY_MAX_PARAMS) {
		if (qc->seen & (UINT32_C(1) << i)) {
			reply_error(qc->rep, 400, "bad_request",
				    "query parameter '%s' is given twice: give it once", shown);
			goto refused;
		}
		qc->seen |= UINT32_C(1) << i;
	}
	if (!value) {
		reply_error(qc->rep, 400, "bad_request",
			    "query parameter '%s' has no value: use %s=VALUE", shown, shown);
		goto refused;
	}
	dispatch_show(vshown, sizeof(vshown), value, vlen);
	if (strlen(value) != vlen || !utf8_valid(value, vlen)) {
		reply_error(qc->rep, 400, "bad_request",
			    "invalid %s '%s': %s", shown, vshown,
			    strlen(value) != vlen ? "it holds a NUL byte" : "not valid UTF-8");
		goto refused;
	}
	switch (pk) {
	case PARAM_ID:
		if (!farm_id_valid(value)) {
			reply_error(qc->rep, 400, "bad_request", "invalid %s '%s': %s", shown,
				    vshown, ID_RULE);
			goto refused;
		}
		break;
	case PARAM_FILE:
		if (!file_name_valid(value, vlen)) {
			reply_error(qc->rep, 400, "bad_request", "invalid %s '%s': %s", shown,
				    vshown, FILE_RULE);
			goto refused;
		}
		break;
	case PARAM_FORMAT:
		if (strcmp(value, "json") && strcmp(value, "csv")) {
			reply_error(qc->rep, 400, "bad_request",
				    "invalid format '%s': use json or csv", vshown);
			goto refused;
		}
		qc->format = value;
		break;
	case PARAM_TEXT:
		break;
	}
	return MHD_YES;
refused:
	qc->failed = true;
	return MHD_NO;
}

/* ---- Accept and Content-Type ---- */

/* How well one media type is accepted: q of the most specific matching range. */
struct accept_rank {
	double q;	/* 0 when no range matches (or q=0) */
	int specific;	/* 0 none, 1 * / *, 2 type/ *, 3 exact */
	size_t pos;	/* the matching range's position in the header */
};

/* The media type of one header element (before ';'), trimmed; its length. */
static size_t media_type(const char *s, size_t n, const char **start)
{
	size_t semi = 0;

	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (semi < n && s[semi] != ';')
		semi++;
	while (semi && isspace((unsigned char)s[semi - 1]))
		semi--;
	*start = s;
	return semi;
}

/* The q of one Accept element (1 when it has none; malformed or NaN: 0). */
static double element_q(const char *s, size_t n)
{
	const char *end = s + n;

	for (const char *p = memchr(s, ';', n); p; p = memchr(p + 1, ';', (size_t)(end - p - 1))) {
		const char *v = p + 1;

		while (v < end && isspace((unsigned char)*v))
			v++;
		if (end - v >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=') {
			double q = strtod(v + 2, NULL);

			return q >= 0 ? (q > 1 ? 1 : q) : 0;
		}
	}
	return 1;
}

static struct accept_rank accept_rank(const char *accept, const char *type)
{
	struct accept_rank best = { 0, 0, 0 };
	size_t major = (size_t)(strchr(type, '/') - type) + 1;	/* "text/" */
	size_t pos = 0;

	for (const char *p = accept; *p; pos++) {
		size_t n = strcspn(p, ","), tlen;
		const char *t;
		int spec = 0;

		tlen = media_type(p, n, &t);
		if (tlen == 3 && !memcmp(t, "*/*", 3))
			spec = 1;
		else if (tlen == major + 1 && !strncasecmp(t, type, major) && t[major] == '*')
			spec = 2;
		else if (tlen == strlen(type) && !strncasecmp(t, type, tlen))
			spec = 3;
		if (spec > best.specific)
			best = (struct accept_rank){ element_q(p, n), spec, pos };
		p += n;
		if (*p == ',')
			p++;
	}
	return best;
}

/* True when a is the better representation than b (higher q, more specific, first). */
static bool rank_better(struct accept_rank a, struct accept_rank b)
{
	if (a.q != b.q)
		return a.q > b.q;
	if (a.specific != b.specific)
		return a.specific > b.specific;
	return a.specific > 1 && a.pos < b.pos;
}

/*
 * Decide req->csv: ?format= when given (it wins over Accept), else Accept; false (406
 * in rep) when Accept takes nothing the route answers.
 */
static bool negotiate(struct request *req, const struct route *r, const char *format,
		      struct reply *rep)
{
	const char *accept = request_header(req, MHD_HTTP_HEADER_ACCEPT);
	bool offers_csv = r->flags & ROUTE_CSV;
	struct accept_rank json, csv = { 0, 0, 0 };
	char shown[SHOW_MAX];

	if (format || !accept || !accept[strspn(accept, " \t")]) {
		req->csv = format && !strcmp(format, "csv");
		return true;
	}
	json = accept_rank(accept, "application/json");
	if (offers_csv)
		csv = accept_rank(accept, "text/csv");
	req->csv = rank_better(csv, json);
	if ((req->csv ? csv.q : json.q) > 0)
		return true;
	reply_error(rep, 406, "not_acceptable",
		    "cannot answer with any type in Accept '%s': %s %s answers "
		    "application/json%s",
		    dispatch_show(shown, sizeof(shown), accept, strlen(accept)), r->method,
		    r->pattern, offers_csv ? " or text/csv (or ?format=csv)" : "");
	return false;
}

static bool content_type_ok(struct request *req, const struct route *r, struct reply *rep)
{
	const char *ctype = request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
	const char *t, *p = r->content_types;
	char shown[SHOW_MAX], list[256];
	size_t tlen;

	if (!ctype || !p)
		return true;
	tlen = media_type(ctype, strlen(ctype), &t);
	while (*p) {
		size_t tok = strcspn(p, " ");

		if (tok == tlen && !strncasecmp(p, t, tlen))
			return true;
		p += tok;
		p += strspn(p, " ");
	}
	join_words(r->content_types, list, sizeof(list));
	reply_error(rep, 415, "unsupported_media_type",
		    "unsupported content type '%s' for %s %s: send Content-Type %s",
		    dispatch_show(shown, sizeof(shown), ctype, strlen(ctype)), r->method,
		    r->pattern, list);
	return false;
}

/* ---- the route ---- */

const struct route *dispatch_route(struct request *req, struct reply *rep)
{
	struct segment seg[ROUTE_MAX_PARAMS];
	const struct route *found = NULL;
	struct query_check qc = { .rep = rep };
	char allow[sizeof(rep->allow)] = "";
	size_t nseg = 0;

	if (req->path_len == ROUTE_PATH_OVERLONG) {
		refuse_path(req, rep, allow);
		return NULL;
	}
	for (size_t i = 0; i < nroutes && !found; i++)
		if (!strcmp(routes[i].method, req->method) &&
		    match(routes[i].pattern, req->path, req->path_len, NULL, NULL))
			found = &routes[i];
	if (!found) {
		/* the methods the path takes, for a 405 (not built on the way to a route:
		 * that costs every request a formatting) */
		for (size_t i = 0; i < nroutes; i++) {
			size_t o = strlen(allow);

			if (match(routes[i].pattern, req->path, req->path_len, NULL, NULL))
				snprintf(allow + o, sizeof(allow) - o, "%s%s", o ? ", " : "",
					 routes[i].method);
		}
		refuse_path(req, rep, allow);
		return NULL;
	}
	/* who may ask comes before what was asked: no id or query check for a stranger */
	req->route = found;
	if (!server_authorize(req, found, rep))
		return NULL;
	match(found->pattern, req->path, req->path_len, seg, &nseg);
	/* the literal parts matched the pattern: only the ids can hold odd bytes */
	if (!take_params(req, found, seg, nseg, rep))
		return NULL;
	qc.route = found;
	MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND, check_param, &qc);
	if (qc.failed || !negotiate(req, found, qc.format, rep) ||
	    !content_type_ok(req, found, rep))
		return NULL;
	return found;
}
