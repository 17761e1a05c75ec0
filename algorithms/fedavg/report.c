/* report.c: the federated sections of report.html: the silos (rows,
 * label histogram, rounds taken part in, updates refused) and the curves
 * per round (test accuracy and loss, bytes on the wire). The engine's own
 * charts plot every round metric, the time split included. */
#include "algorithms/fedavg/fedavg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_CLASS_COLS 12

static int s_silo_table(const ch_fed_result *r, ch_report *rep)
{
    const ch_fed_silos *s = &r->silos;
    size_t shown = s->n_classes <= S_MAX_CLASS_COLS ? s->n_classes : 0;
    size_t ncols = 4 + shown;
    const char **header = calloc(ncols, sizeof *header);
    char **cells = ch_calloc_array(s->n * ncols + 1, sizeof *cells);
    char **names = ch_calloc_array(shown + 1, sizeof *names);
    int rc = header && cells && names ? 0 : CH_ENOMEM;
    if (rc == 0) {
        header[0] = "silo";
        header[1] = "rows";
        header[2] = "rounds";
        header[3] = "refused";
        for (size_t c = 0; c < shown; c++) {
            names[c] = malloc(32);
            if (!names[c]) {
                rc = CH_ENOMEM;
                break;
            }
            snprintf(names[c], 32, "class %zu", c);
            header[4 + c] = names[c];
        }
    }
    for (size_t i = 0; i < s->n && rc == 0; i++) {
        for (size_t c = 0; c < ncols; c++) {
            char *cell = malloc(32);
            if (!cell) {
                rc = CH_ENOMEM;
                break;
            }
            unsigned long long v = c == 0   ? i
                                   : c == 1 ? s->rows[i]
                                   : c == 2 ? s->rounds[i]
                                   : c == 3 ? s->rejected[i]
                                            : s->hist[i * s->n_classes + (c - 4)];
            snprintf(cell, 32, "%llu", v);
            cells[i * ncols + c] = cell;
        }
    }
    if (rc == 0) {
        rc = ch_report_table(rep, header, ncols, (const char *const *)cells, s->n, -1);
    }
    for (size_t i = 0; cells && i < s->n * ncols; i++) {
        free(cells[i]);
    }
    for (size_t c = 0; names && c < shown; c++) {
        free(names[c]);
    }
    free(cells);
    free(names);
    free(header);
    return rc;
}

int ch_fed_report(const ch_fed_result *r, ch_report *rep, ch_err *err)
{
    char rounds[32], silos[32];
    snprintf(rounds, sizeof rounds, "%u", r->rounds);
    snprintf(silos, sizeof silos, "%zu", r->silos.n);
    const char *keys[] = {"strategy", "compression", "network", "rounds", "silos"};
    const char *vals[] = {ch_fed_strategy_names[r->p.strategy], ch_fed_comp_names[r->p.compression],
                          ch_fed_net_names[r->p.net], rounds, silos};
    ch_report_section(rep, "Federation");
    int rc = ch_report_kv(rep, keys, vals, 5);
    if (rc == 0) {
        ch_report_heading(rep, "Silos: rows, label histogram and participation");
        rc = s_silo_table(r, rep);
    }
    const ch_fed_curves *c = &r->curves;
    if (rc == 0 && c->n) {
        double *x = malloc(c->n * sizeof *x);
        if (!x) {
            return ch_err_set(err, CH_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < c->n; i++) {
            x[i] = (double)c->round[i];
        }
        ch_report_section(rep, "Rounds");
        if (r->n_classes) {
            ch_svg_series acc[1] = {{"test accuracy", x, c->test_accuracy, c->n}};
            ch_svg_line_opts ao = {.title = "Global test accuracy per round",
                                   .x_label = "round",
                                   .y_label = "accuracy"};
            rc = ch_report_line_chart(rep, &ao, acc, 1);
        }
        ch_svg_series loss[2] = {{"test", x, c->test_loss, c->n},
                                 {"local training", x, c->train_loss, c->n}};
        ch_svg_line_opts lo = {.title = "Loss per round", .x_label = "round", .y_label = "loss"};
        if (rc == 0) {
            rc = ch_report_line_chart(rep, &lo, loss, 2);
        }
        ch_svg_series bytes[2] = {{"silos to coordinator", x, c->bytes_in, c->n},
                                  {"coordinator to silos", x, c->bytes_out, c->n}};
        ch_svg_line_opts bo = {
            .title = "Bytes on the wire per round", .x_label = "round", .y_label = "bytes"};
        if (rc == 0) {
            rc = ch_report_line_chart(rep, &bo, bytes, 2);
        }
        free(x);
    }
    return rc ? ch_err_set(err, rc, "out of memory building the report") : 0;
}
