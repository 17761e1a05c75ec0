/* report.h: a self-contained HTML report (one file, inline CSS and SVG).
 *
 * A report is built in order: a title, then sections, each with headings,
 * paragraphs, key/value tables, tables, preformatted text and charts. The
 * page needs no network and no JavaScript. Every text given is escaped; only
 * ch_report_svg inserts markup as is (it must come from svg.h).
 *
 * Appends never fail loudly: an allocation failure is remembered and
 * reported by ch_report_render / ch_report_write (CH_ENOMEM), so a builder
 * can add content without checking every call. The add functions still
 * return 0 or CH_ENOMEM for callers that want to stop early. */
#ifndef CH_REPORT_H
#define CH_REPORT_H

#include "common/buf.h"
#include "common/err.h"
#include "common/svg.h"

#include <stddef.h>

typedef struct ch_report ch_report;

/* Creates an empty report titled `title` (copied; NULL means "cohort
 * report"). Returns NULL when out of memory. */
ch_report *ch_report_new(const char *title);

/* Frees the report and sets *r to NULL. Accepts NULL and a NULL *r. */
void ch_report_destroy(ch_report **r);

/* Sets the line under the title (run id, date, ...); copied. */
int ch_report_subtitle(ch_report *r, const char *text);

/* Starts a new section with an <h2> heading, closing the previous one. The
 * section is listed in the contents at the top with a link to its anchor. */
int ch_report_section(ch_report *r, const char *heading);

/* An <h3> heading inside the current section. */
int ch_report_heading(ch_report *r, const char *text);

/* A paragraph of plain text. */
int ch_report_paragraph(ch_report *r, const char *text);

/* A two-column table of n keys and values. A NULL value shows as an empty
 * cell. */
int ch_report_kv(ch_report *r, const char *const *keys, const char *const *values, size_t n);

/* A table with a header of ncols names and nrows rows of ncols strings,
 * cells[row * ncols + col] (NULL cells are empty). A column whose every
 * non-empty cell is a number is right-aligned with tabular digits. Row
 * `highlight` (or -1 for none) is marked as the best row. */
int ch_report_table(ch_report *r, const char *const *header, size_t ncols, const char *const *cells,
                    size_t nrows, long highlight);

/* A preformatted block (a resolved config, a log excerpt) with an optional
 * caption (NULL for none). */
int ch_report_pre(ch_report *r, const char *caption, const char *text);

/* A list of links (the runs of a workflow or sweep): labels are text, hrefs
 * are relative URLs, both escaped. */
int ch_report_links(ch_report *r, const char *const *labels, const char *const *hrefs, size_t n);

/* Inserts an <svg> produced by svg.h as it is, in a figure. Do not pass
 * markup from any other source. */
int ch_report_svg(ch_report *r, const char *svg);

/* Draws a line chart (see ch_svg_line_chart) into the report. */
int ch_report_line_chart(ch_report *r, const ch_svg_line_opts *opts, const ch_svg_series *series,
                         size_t ns);

/* Draws a horizontal bar chart (see ch_svg_bar_chart) into the report. */
int ch_report_bar_chart(ch_report *r, const ch_svg_bar_opts *opts, const char *const *labels,
                        const double *values, size_t n);

/* Appends the complete HTML document to out. Returns 0, or CH_ENOMEM if any
 * earlier append or this one ran out of memory. The report is unchanged and
 * can be rendered again. */
int ch_report_render(const ch_report *r, ch_buf *out);

/* Writes the document to path atomically: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory. On failure the
 * previous file at path (if any) is untouched, the temporary file is removed
 * and err names the path and the failing step. */
int ch_report_write(const ch_report *r, const char *path, ch_err *err);

#endif
