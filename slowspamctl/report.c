/*
 * report.c - the statistics as one self-contained HTML page: the three
 * figures, then bar charts (inline SVG) of sessions per day, by hour of
 * day and by hold time, and tables of the top networks and HELO classes.
 * Nothing is fetched from anywhere: the page can be mailed or archived.
 *
 *	report_html	write the page
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "record.h"
#include "report.h"

#define CHART_W	640
#define CHART_H	160

/* Text for HTML: & < > " escaped. */
static void
put_text(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* A bar chart of n values with their labels, as inline SVG. */
static void
bar_chart(FILE *out, const char *title, const char *const *labels,
    const uint64_t *values, size_t n)
{
	uint64_t max = 1;
	double w;

	for (size_t i = 0; i < n; i++)
		max = MAX(max, values[i]);
	w = n > 0 ? (double)CHART_W / (double)n : CHART_W;
	fprintf(out, "<h2>");
	put_text(out, title);
	fprintf(out, "</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"", CHART_W,
	    CHART_H + 30);
	put_text(out, title);
	fprintf(out, "\">\n");
	for (size_t i = 0; i < n; i++) {
		double h = (double)values[i] * CHART_H / (double)max;

		fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"#3a6ea5\"><title>", i * w + 1,
		    CHART_H - h, MAX(w - 2, 1.0), h);
		put_text(out, labels[i]);
		fprintf(out, ": %" G_GUINT64_FORMAT "</title></rect>\n",
		    values[i]);
		if (n <= 31)
			fprintf(out, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" "
			    "text-anchor=\"middle\">%" G_GUINT64_FORMAT "</text>\n",
			    i * w + w / 2, CHART_H + 12, values[i]);
	}
	fprintf(out, "<text x=\"0\" y=\"%d\" font-size=\"10\">", CHART_H + 26);
	if (n > 0) {
		put_text(out, labels[0]);
		fprintf(out, " … ");
		put_text(out, labels[n - 1]);
	}
	fprintf(out, "</text>\n</svg>\n");
}

void
report_html(const struct stats *st, FILE *out)
{
	char t0[RECORD_TIME_LEN], t1[RECORD_TIME_LEN];
	const char *hours[24], *holds[STATS_HOLD_BINS];
	g_autofree const char **days = g_new0(const char *,
	    st->days->len + 1);
	g_autofree uint64_t *per_day = g_new0(uint64_t, st->days->len + 1);
	char hour_names[24][4];

	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><title>slowspam report</title>\n"
	    "<style>body{font-family:sans-serif;margin:2em;max-width:60em}"
	    ".fig{display:inline-block;margin:0 2em 1em 0}"
	    ".fig b{display:block;font-size:2em}"
	    "table{border-collapse:collapse}td,th{padding:2px 8px;"
	    "border-bottom:1px solid #ddd;text-align:left}"
	    "td.n{text-align:right}</style></head><body>\n");
	fprintf(out, "<h1>slowspam report</h1>\n<p>Stats since: <span "
	    "id=\"since\">%s</span> &middot; last session: %s</p>\n",
	    record_format_time(st->first, t0), record_format_time(st->last, t1));
	fprintf(out, "<div class=\"fig\">Emails blocked<b id=\"blocked\">%"
	    G_GUINT64_FORMAT "</b></div>\n", st->sessions);
	fprintf(out, "<div class=\"fig\">Hours in Tar Pit<b id=\"hours\">%.2f"
	    "</b></div>\n", (double)st->held_ms / 3600000.0);
	fprintf(out, "<div class=\"fig\">Unique SMTP Hosts<b id=\"hosts\">%"
	    G_GUINT64_FORMAT "</b></div>\n", st->hosts);
	fprintf(out, "<p>Source: ");
	put_text(out, st->source->str);
	fprintf(out, "</p>\n");

	for (guint i = 0; i < st->days->len; i++) {
		const struct stats_day *d = &g_array_index(st->days,
		    struct stats_day, i);

		days[i] = d->date;
		per_day[i] = d->sessions;
	}
	bar_chart(out, "Sessions per day (UTC)", days, per_day,
	    st->days->len);
	for (int h = 0; h < 24; h++) {
		g_snprintf(hour_names[h], sizeof(hour_names[h]), "%02d", h);
		hours[h] = hour_names[h];
	}
	bar_chart(out, "Sessions by hour of day (UTC)", hours, st->by_hour, 24);
	for (int b = 0; b < STATS_HOLD_BINS; b++)
		holds[b] = stats_hold_name(b);
	bar_chart(out, "Hold times", holds, st->hold, STATS_HOLD_BINS);

	fprintf(out, "<h2>Top networks</h2>\n<table><tr><th>network</th>"
	    "<th>sessions</th><th>hours</th></tr>\n");
	for (guint i = 0; i < st->top->len; i++) {
		const struct stats_net *n = &g_array_index(st->top,
		    struct stats_net, i);

		fprintf(out, "<tr><td>");
		put_text(out, n->net);
		fprintf(out, "</td><td class=\"n\">%" G_GUINT64_FORMAT "</td>"
		    "<td class=\"n\">%.2f</td></tr>\n", n->sessions,
		    (double)n->held_ms / 3600000.0);
	}
	fprintf(out, "</table>\n<h2>HELO classes</h2>\n<table>\n");
	for (int i = 0; i <= HELO_CLASS_COUNT; i++)
		if (st->helo_classes[i] > 0)
			fprintf(out, "<tr><td>%s</td><td class=\"n\">%"
			    G_GUINT64_FORMAT "</td></tr>\n", i < HELO_CLASS_COUNT ?
			    helo_class_name(i) : "no HELO", st->helo_classes[i]);
	fprintf(out, "</table>\n<h2>Evidence</h2>\n<table>\n");
	for (unsigned i = 0; record_evidence_name(i) != NULL; i++)
		fprintf(out, "<tr><td>%s</td><td class=\"n\">%" G_GUINT64_FORMAT
		    "</td></tr>\n", record_evidence_name(i), st->evidence[i]);
	fprintf(out, "</table>\n<p>Networks the tar pit saw before the "
	    "primary: %" G_GUINT64_FORMAT "</p>\n</body></html>\n",
	    st->later_at_primary);
}
