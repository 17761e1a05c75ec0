/* main.c: the cohort program; dispatches to the subcommands in cli/. */
#include <stdio.h>

int main(void)
{
    printf("cohort %s\n", COHORT_VERSION);
    return 0;
}
