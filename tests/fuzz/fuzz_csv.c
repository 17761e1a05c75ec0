/* fuzz_csv.c: libFuzzer target for the CSV parser: any bytes must give a
 * table or an error message, never a crash, leak or undefined behaviour. */
#include "common/table.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ch_err err = {0};
    ch_table *t = ch_csv_parse((const char *)data, size, "fuzz.csv", &err);
    if (t) {
        /* touch what the parser promised: codes index the levels */
        for (size_t j = 0; j < t->n_cols; j++) {
            for (size_t i = 0; i < t->n_rows; i++) {
                double v = t->cols[j].values[i];
                if (t->cols[j].kind == CH_COL_CATEGORICAL && v == v) {
                    if (v < 0 || (size_t)v >= t->cols[j].n_levels) {
                        __builtin_trap();
                    }
                }
            }
        }
        (void)ch_table_fingerprint(t);
    } else if (err.msg[0] == '\0') {
        __builtin_trap(); /* a failure must leave a message */
    }
    ch_table_destroy(&t);
    return 0;
}
