/* report.c: the self-contained HTML report builder (see report.h). */
#include "common/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef COHORT_VERSION
#define COHORT_VERSION "dev"
#endif

struct ch_report {
    char *title;
    char *subtitle;
    ch_buf body;     /* the sections, as HTML */
    char **sections; /* section headings, for the contents */
    size_t nsections;
    size_t cap;
    bool in_section;
    bool failed; /* an allocation failed somewhere */
};

/* Inline so the page needs nothing from the network. System fonts, a narrow
 * readable column, quiet tables; printing drops the contents box. */
static const char *S_CSS =
    ":root{--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--head:#f6f8fa;--stripe:#fafbfc;"
    "--accent:#0969da;--best:#fff4e0}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;background:#fff;color:var(--fg);"
    "font:15px/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,"
    "sans-serif}\n"
    "main{max-width:1060px;margin:0 auto;padding:36px 28px 64px}\n"
    "header h1{font-size:28px;line-height:1.25;margin:0 0 4px}\n"
    ".subtitle{color:var(--muted);margin:0}\n"
    "nav.toc{margin:20px 0 8px;padding:10px 16px;border:1px solid var(--border);"
    "border-radius:8px;background:var(--head);font-size:14px}\n"
    "nav.toc ol{margin:0;padding-left:20px;columns:2}\n"
    "a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}\n"
    "section{margin-top:36px}\n"
    "h2{font-size:20px;margin:0 0 12px;padding-bottom:6px;border-bottom:1px solid var(--border)}\n"
    "h3{font-size:16px;margin:20px 0 8px}\n"
    ".table-wrap{overflow-x:auto;margin:12px 0}\n"
    "table{border-collapse:collapse;font-size:14px;min-width:40%}\n"
    "th,td{padding:6px 12px;border-bottom:1px solid var(--border);text-align:left;"
    "vertical-align:top}\n"
    "thead th{background:var(--head);font-weight:600;border-bottom:2px solid var(--border)}\n"
    "tbody tr:nth-child(even){background:var(--stripe)}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    "tr.best,tbody tr.best:nth-child(even){background:var(--best);font-weight:600}\n"
    "tr.best td:first-child::before{content:\"\\2605 \";color:#d9822b}\n"
    "table.kv th{background:none;color:var(--muted);font-weight:500;white-space:nowrap;"
    "width:1%}\n"
    "figure{margin:16px 0}figure svg{display:block;max-width:100%;height:auto}\n"
    "figcaption{color:var(--muted);font-size:13px;margin-bottom:4px}\n"
    "pre{background:var(--head);border:1px solid var(--border);border-radius:6px;"
    "padding:12px 16px;overflow:auto;font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,"
    "Consolas,\"Liberation Mono\",monospace}\n"
    "ul.links{padding-left:20px}\n"
    "footer{margin-top:48px;padding-top:12px;border-top:1px solid var(--border);"
    "color:var(--muted);font-size:13px}\n"
    "@media print{nav.toc{display:none}main{max-width:none}}\n";

static int s_status(ch_report *r)
{
    if (r->body.failed) {
        r->failed = true;
    }
    return r->failed ? CH_ENOMEM : 0;
}

ch_report *ch_report_new(const char *title)
{
    ch_report *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    r->title = strdup(title ? title : "cohort report");
    if (!r->title) {
        free(r);
        return NULL;
    }
    return r;
}

void ch_report_destroy(ch_report **rp)
{
    if (!rp || !*rp) {
        return;
    }
    ch_report *r = *rp;
    free(r->title);
    free(r->subtitle);
    ch_buf_free(&r->body);
    for (size_t i = 0; i < r->nsections; i++) {
        free(r->sections[i]);
    }
    free(r->sections);
    free(r);
    *rp = NULL;
}

int ch_report_subtitle(ch_report *r, const char *text)
{
    char *c = strdup(text ? text : "");
    if (!c) {
        r->failed = true;
        return CH_ENOMEM;
    }
    free(r->subtitle);
    r->subtitle = c;
    return 0;
}

int ch_report_section(ch_report *r, const char *heading)
{
    if (r->nsections == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 8;
        char **p = ch_alloc_array(ncap, sizeof *p);
        if (!p) {
            r->failed = true;
            return CH_ENOMEM;
        }
        if (r->nsections) {
            memcpy(p, r->sections, r->nsections * sizeof *p);
        }
        free(r->sections);
        r->sections = p;
        r->cap = ncap;
    }
    char *h = strdup(heading ? heading : "");
    if (!h) {
        r->failed = true;
        return CH_ENOMEM;
    }
    r->sections[r->nsections++] = h;
    if (r->in_section) {
        ch_buf_puts(&r->body, "</section>\n");
    }
    ch_buf_printf(&r->body, "<section id=\"s%zu\">\n<h2>", r->nsections);
    ch_buf_html(&r->body, h);
    ch_buf_puts(&r->body, "</h2>\n");
    r->in_section = true;
    return s_status(r);
}

/* Appends <tag class="cls">escaped text</tag>. */
static int s_element(ch_report *r, const char *tag, const char *cls, const char *text)
{
    ch_buf_printf(&r->body, "<%s%s%s%s>", tag, cls ? " class=\"" : "", cls ? cls : "",
                  cls ? "\"" : "");
    ch_buf_html(&r->body, text ? text : "");
    ch_buf_printf(&r->body, "</%s>\n", tag);
    return s_status(r);
}

int ch_report_heading(ch_report *r, const char *text)
{
    return s_element(r, "h3", NULL, text);
}

int ch_report_paragraph(ch_report *r, const char *text)
{
    return s_element(r, "p", NULL, text);
}

int ch_report_kv(ch_report *r, const char *const *keys, const char *const *values, size_t n)
{
    ch_buf *b = &r->body;
    ch_buf_puts(b, "<div class=\"table-wrap\"><table class=\"kv\"><tbody>\n");
    for (size_t i = 0; i < n; i++) {
        ch_buf_puts(b, "<tr><th scope=\"row\">");
        ch_buf_html(b, keys && keys[i] ? keys[i] : "");
        ch_buf_puts(b, "</th><td>");
        ch_buf_html(b, values && values[i] ? values[i] : "");
        ch_buf_puts(b, "</td></tr>\n");
    }
    ch_buf_puts(b, "</tbody></table></div>\n");
    return s_status(r);
}

/* True for a cell that reads as a number: "0.91", "-3", "1e-5", "12.5%". */
static bool s_is_number(const char *s)
{
    while (*s == ' ') {
        s++;
    }
    if (!*s) {
        return false;
    }
    char *end = NULL;
    strtod(s, &end);
    if (end == s) {
        return false;
    }
    if (*end == '%') {
        end++;
    }
    while (*end == ' ') {
        end++;
    }
    return *end == '\0';
}

/* Cells that do not decide a column's alignment. */
static bool s_is_blank(const char *s)
{
    return !s || !s[0] || !strcmp(s, "-") || !strcmp(s, "n/a") || !strcmp(s, "NA");
}

int ch_report_table(ch_report *r, const char *const *header, size_t ncols, const char *const *cells,
                    size_t nrows, long highlight)
{
    ch_buf *b = &r->body;
    bool *num = ncols ? calloc(ncols, sizeof *num) : NULL;
    if (ncols && !num) {
        r->failed = true;
        return CH_ENOMEM;
    }
    for (size_t c = 0; c < ncols; c++) {
        bool any = false, all = true;
        for (size_t row = 0; row < nrows && cells; row++) {
            const char *s = cells[row * ncols + c];
            if (s_is_blank(s)) {
                continue;
            }
            any = true;
            all = all && s_is_number(s);
        }
        num[c] = any && all;
    }
    ch_buf_puts(b, "<div class=\"table-wrap\"><table class=\"data\">\n<thead><tr>");
    for (size_t c = 0; c < ncols; c++) {
        ch_buf_printf(b, "<th scope=\"col\"%s>", num[c] ? " class=\"num\"" : "");
        ch_buf_html(b, header && header[c] ? header[c] : "");
        ch_buf_puts(b, "</th>");
    }
    ch_buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t row = 0; row < nrows; row++) {
        bool best = highlight >= 0 && (size_t)highlight == row;
        ch_buf_puts(b, best ? "<tr class=\"best\">" : "<tr>");
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cells ? cells[row * ncols + c] : NULL;
            ch_buf_printf(b, "<td%s>", num[c] ? " class=\"num\"" : "");
            ch_buf_html(b, s ? s : "");
            ch_buf_puts(b, "</td>");
        }
        ch_buf_puts(b, "</tr>\n");
    }
    ch_buf_puts(b, "</tbody></table></div>\n");
    free(num);
    return s_status(r);
}

int ch_report_pre(ch_report *r, const char *caption, const char *text)
{
    ch_buf *b = &r->body;
    ch_buf_puts(b, "<figure class=\"pre\">");
    if (caption) {
        ch_buf_puts(b, "<figcaption>");
        ch_buf_html(b, caption);
        ch_buf_puts(b, "</figcaption>");
    }
    ch_buf_puts(b, "<pre>");
    ch_buf_html(b, text ? text : "");
    ch_buf_puts(b, "</pre></figure>\n");
    return s_status(r);
}

int ch_report_links(ch_report *r, const char *const *labels, const char *const *hrefs, size_t n)
{
    ch_buf *b = &r->body;
    ch_buf_puts(b, "<ul class=\"links\">\n");
    for (size_t i = 0; i < n; i++) {
        ch_buf_puts(b, "<li><a href=\"");
        ch_buf_html(b, hrefs && hrefs[i] ? hrefs[i] : "");
        ch_buf_puts(b, "\">");
        ch_buf_html(b, labels && labels[i] ? labels[i] : "");
        ch_buf_puts(b, "</a></li>\n");
    }
    ch_buf_puts(b, "</ul>\n");
    return s_status(r);
}

int ch_report_svg(ch_report *r, const char *svg)
{
    ch_buf_puts(&r->body, "<figure class=\"chart\">\n");
    ch_buf_puts(&r->body, svg ? svg : "");
    ch_buf_puts(&r->body, "</figure>\n");
    return s_status(r);
}

int ch_report_line_chart(ch_report *r, const ch_svg_line_opts *opts, const ch_svg_series *series,
                         size_t ns)
{
    ch_buf_puts(&r->body, "<figure class=\"chart\">\n");
    ch_svg_line_chart(&r->body, opts, series, ns);
    ch_buf_puts(&r->body, "</figure>\n");
    return s_status(r);
}

int ch_report_bar_chart(ch_report *r, const ch_svg_bar_opts *opts, const char *const *labels,
                        const double *values, size_t n)
{
    ch_buf_puts(&r->body, "<figure class=\"chart\">\n");
    ch_svg_bar_chart(&r->body, opts, labels, values, n);
    ch_buf_puts(&r->body, "</figure>\n");
    return s_status(r);
}

int ch_report_render(const ch_report *r, ch_buf *out)
{
    if (r->failed || r->body.failed) {
        return CH_ENOMEM;
    }
    ch_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<meta name=\"generator\" content=\"cohort " COHORT_VERSION "\">\n<title>");
    ch_buf_html(out, r->title);
    ch_buf_puts(out, "</title>\n<style>\n");
    ch_buf_puts(out, S_CSS);
    ch_buf_puts(out, "</style>\n</head>\n<body>\n<main>\n<header>\n<h1>");
    ch_buf_html(out, r->title);
    ch_buf_puts(out, "</h1>\n");
    if (r->subtitle) {
        ch_buf_puts(out, "<p class=\"subtitle\">");
        ch_buf_html(out, r->subtitle);
        ch_buf_puts(out, "</p>\n");
    }
    ch_buf_puts(out, "</header>\n");
    if (r->nsections > 1) {
        ch_buf_puts(out, "<nav class=\"toc\"><ol>\n");
        for (size_t i = 0; i < r->nsections; i++) {
            ch_buf_printf(out, "<li><a href=\"#s%zu\">", i + 1);
            ch_buf_html(out, r->sections[i]);
            ch_buf_puts(out, "</a></li>\n");
        }
        ch_buf_puts(out, "</ol></nav>\n");
    }
    ch_buf_append(out, r->body.data ? r->body.data : (const uint8_t *)"", r->body.len);
    if (r->in_section) {
        ch_buf_puts(out, "</section>\n");
    }
    ch_buf_puts(out, "<footer>Generated by cohort " COHORT_VERSION
                     ". This page is self-contained: no scripts, no network.</footer>\n"
                     "</main>\n</body>\n</html>\n");
    return out->failed ? CH_ENOMEM : 0;
}

/* Writes all of p to fd, retrying short writes and EINTR. */
static int s_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsyncs the directory holding path so the rename itself is durable. */
static void s_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else if (slash == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse it on directories */
        close(fd);
    }
}

int ch_report_write(const ch_report *r, const char *path, ch_err *err)
{
    if (!r || !path || !path[0]) {
        return ch_err_set(err, CH_EINVAL, "report: no report or no output path");
    }
    ch_buf html = {0};
    if (ch_report_render(r, &html) != 0) {
        ch_buf_free(&html);
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory building the report", path);
    }
    ch_buf tmp = {0};
    ch_buf_printf(&tmp, "%s.tmp.XXXXXX", path);
    if (tmp.failed) {
        ch_buf_free(&html);
        return ch_err_set(err, CH_ENOMEM, "%s: out of memory", path);
    }
    char *tmp_path = (char *)tmp.data;
    int code = 0;
    const char *step = NULL;
    int fd = mkstemp(tmp_path);
    if (fd < 0) {
        code = ch_err_set(err, CH_EIO, "%s: cannot create a temporary file next to it: %s", path,
                          strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0644) != 0) {
        step = "chmod";
    } else if (s_write_all(fd, html.data, html.len) != 0) {
        step = "write";
    } else if (fsync(fd) != 0) {
        step = "fsync";
    }
    if (step) {
        code = ch_err_set(err, CH_EIO, "%s: %s of %s failed: %s", path, step, tmp_path,
                          strerror(errno));
        close(fd);
        unlink(tmp_path);
        goto out;
    }
    if (close(fd) != 0) {
        code =
            ch_err_set(err, CH_EIO, "%s: close of %s failed: %s", path, tmp_path, strerror(errno));
        unlink(tmp_path);
        goto out;
    }
    if (rename(tmp_path, path) != 0) {
        code = ch_err_set(err, CH_EIO, "%s: rename from %s failed: %s", path, tmp_path,
                          strerror(errno));
        unlink(tmp_path);
        goto out;
    }
    s_sync_dir(path);
out:
    ch_buf_free(&tmp);
    ch_buf_free(&html);
    return code;
}
