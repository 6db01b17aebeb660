/*
 * report.h - the statistics as one self-contained HTML page.
 */
#ifndef SLOWSPAM_REPORT_H
#define SLOWSPAM_REPORT_H

#include <stdio.h>

#include "stats.h"

/* Write the page: no external assets, charts as inline SVG. */
void	report_html(const struct stats *st, FILE *out);

#endif /* SLOWSPAM_REPORT_H */
