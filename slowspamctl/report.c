/*
 * report.c - the statistics as one self-contained HTML page: the three
 * figures, then bar charts (inline SVG) of sessions per day, by hour of
 * day and by hold time, and tables of the top networks and HELO classes.
 * Nothing is fetched from anywhere: the page can be mailed or archived.
 *
 *	report_html	write the page
 *
 * Each chart has a title, a y axis with its unit, gridlines and tick
 * values (0 to a round number), labels under the bars and an x-axis
 * title; each bar a tooltip (its <title>) with its label and value, and
 * the value above it when it fits. The page has no script, and its
 * Content-Security-Policy forbids loading anything; every string from
 * the data (network names, file names) is HTML-escaped, and valid UTF-8
 * without controls (a file name's invalid bytes as U+FFFD, a store key's
 * bytes one code point each, as in the JSON).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "record.h"
#include "report.h"

/*
 * A chart's box, in SVG user units (pixels at 100%): the plot and the
 * margins for the y-axis ticks and title (left), the bar values (top),
 * and the x-axis labels and title (bottom).
 */
#define CHART_W		720
#define CHART_H		270
#define PLOT_L		64
#define PLOT_R		12
#define PLOT_T		22
#define PLOT_B		50
#define PLOT_W		(CHART_W - PLOT_L - PLOT_R)
#define PLOT_H		(CHART_H - PLOT_T - PLOT_B)
/*
 * Width of a character of a label or value, a little more than the
 * average at its font size: a value is written above its bar if it fits,
 * and every k-th x label so that they never overlap.
 */
#define CHAR_W		7.0
#define LABEL_GAP	4.0
/* Days between the first and last session shown one by one, gaps too. */
#define DAYS_MAX	400

/* A bar chart: n values, each with its label (the tooltip's too). */
struct chart {
	const char	*id;		/* of the svg element */
	const char	*title;
	const char	*x_title;	/* what the bars are: "day (UTC)" */
	const char	*y_title;	/* what they count: "sessions" */
	const char *const *labels;
	const char *const *short_labels; /* under the bars; NULL: labels */
	const uint64_t	*values;
	size_t		 n;
};

/* U+FFFD, for what HTML text may not hold (controls, invalid UTF-8). */
#define REPLACEMENT	"\xef\xbf\xbd"

/* Code point c for HTML text: & < > " escaped, controls replaced. */
static void
put_char(FILE *out, gunichar c)
{
	char u[6];

	switch (c) {
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
		/* C0, DEL and C1: parse errors in HTML, and invisible. */
		if (c < 0x20 || (c >= 0x7f && c < 0xa0))
			fputs(REPLACEMENT, out);
		else
			fwrite(u, 1, (size_t)g_unichar_to_utf8(c, u), out);
	}
}

/*
 * Text an operator chose (a path) for HTML: the page is UTF-8, so a byte
 * sequence that is not becomes U+FFFD, as in stats --json.
 */
static void
put_text(FILE *out, const char *s)
{
	g_autofree char *valid = g_utf8_make_valid(s, -1);

	for (const char *p = valid; *p != '\0'; p = g_utf8_next_char(p))
		put_char(out, g_utf8_get_char(p));
}

/*
 * Bytes another writer may have chosen (a store key) for HTML: each byte
 * one code point, U+0000..U+00FF, the rule of the JSON (docs/json.md).
 */
static void
put_bytes(FILE *out, const char *s)
{
	for (; *s != '\0'; s++)
		put_char(out, (unsigned char)*s);
}

/*
 * The y-axis step: the smallest 1, 2 or 5 times a power of ten that
 * reaches max in at most four steps (max 387: 100, ticks 0 to 400).
 */
static uint64_t
y_step(uint64_t max)
{
	static const uint64_t m[] = { 1, 2, 5 };

	for (uint64_t p = 1; p <= UINT64_MAX / 50; p *= 10)
		for (size_t i = 0; i < G_N_ELEMENTS(m); i++)
			if (m[i] * p >= (max + 3) / 4)
				return m[i] * p;
	return UINT64_MAX / 4;
}

static int
digits(uint64_t v)
{
	int n = 1;

	for (; v >= 10; v /= 10)
		n++;
	return n;
}

/* Gridlines, tick values and the title of the y axis, 0 to top. */
static void
y_axis(FILE *out, const struct chart *c, uint64_t top, uint64_t step)
{
	for (uint64_t v = 0; ; v += step) {
		double y = PLOT_T + PLOT_H - (double)v * PLOT_H / (double)top;

		fprintf(out, "<line class=\"grid\" x1=\"%d\" x2=\"%d\" "
		    "y1=\"%.1f\" y2=\"%.1f\"/>\n<text class=\"tick\" x=\"%d\" "
		    "y=\"%.1f\" text-anchor=\"end\">%" G_GUINT64_FORMAT
		    "</text>\n", PLOT_L, PLOT_L + PLOT_W, y, y, PLOT_L - 6,
		    y + 4, v);
		if (top - v < step)
			break;
	}
	fprintf(out, "<text class=\"axis\" transform=\"translate(16 %d) "
	    "rotate(-90)\" text-anchor=\"middle\">", PLOT_T + PLOT_H / 2);
	put_text(out, c->y_title);
	fprintf(out, "</text>\n<line class=\"axisline\" x1=\"%d\" x2=\"%d\" "
	    "y1=\"%d\" y2=\"%d\"/>\n", PLOT_L, PLOT_L, PLOT_T, PLOT_T + PLOT_H);
}

/* The bars, each with its tooltip, and its value above it if it fits. */
static void
bars(FILE *out, const struct chart *c, uint64_t top)
{
	double w = (double)PLOT_W / (double)c->n;

	for (size_t i = 0; i < c->n; i++) {
		double h = (double)c->values[i] * PLOT_H / (double)top;
		double x = PLOT_L + (double)i * w;

		fprintf(out, "<g class=\"bar\"><title>");
		put_text(out, c->labels[i]);
		fprintf(out, ": %" G_GUINT64_FORMAT " ", c->values[i]);
		put_text(out, c->y_title);
		fprintf(out, "</title><rect x=\"%.1f\" y=\"%.1f\" "
		    "width=\"%.1f\" height=\"%.1f\"/>", x + 1,
		    PLOT_T + PLOT_H - h, MAX(w - 2, 1.0), h);
		if (w >= CHAR_W * digits(c->values[i]) + 2)
			fprintf(out, "<text class=\"value\" x=\"%.1f\" "
			    "y=\"%.1f\" text-anchor=\"middle\">%"
			    G_GUINT64_FORMAT "</text>", x + w / 2,
			    PLOT_T + PLOT_H - h - 4, c->values[i]);
		fprintf(out, "</g>\n");
	}
}

/* Labels under the bars (every k-th, never overlapping), the title. */
static void
x_axis(FILE *out, const struct chart *c)
{
	double w = (double)PLOT_W / (double)c->n;
	const char *const *l = c->short_labels != NULL ? c->short_labels :
	    c->labels;
	size_t longest = 1, k;

	for (size_t i = 0; i < c->n; i++)
		longest = MAX(longest, strlen(l[i]));
	k = (size_t)((CHAR_W * (double)longest + LABEL_GAP) / w) + 1;

	fprintf(out, "<line class=\"axisline\" x1=\"%d\" x2=\"%d\" y1=\"%d\" "
	    "y2=\"%d\"/>\n", PLOT_L, PLOT_L + PLOT_W, PLOT_T + PLOT_H,
	    PLOT_T + PLOT_H);
	for (size_t i = 0; i < c->n; i += k) {
		fprintf(out, "<text class=\"xlabel\" x=\"%.1f\" y=\"%d\" "
		    "text-anchor=\"middle\">", PLOT_L + (double)i * w + w / 2,
		    PLOT_T + PLOT_H + 17);
		put_text(out, l[i]);
		fprintf(out, "</text>\n");
	}
	fprintf(out, "<text class=\"axis\" x=\"%d\" y=\"%d\" "
	    "text-anchor=\"middle\">", PLOT_L + PLOT_W / 2, CHART_H - 8);
	put_text(out, c->x_title);
	fprintf(out, "</text>\n");
}

/* A bar chart as inline SVG under its heading; a line if it is empty. */
static void
bar_chart(FILE *out, const struct chart *c)
{
	uint64_t max = 0, step, top;

	for (size_t i = 0; i < c->n; i++)
		max = MAX(max, c->values[i]);
	fprintf(out, "<h2>");
	put_text(out, c->title);
	fprintf(out, "</h2>\n");
	if (max == 0) {
		fprintf(out, "<p class=\"none\" id=\"%s\">No sessions to "
		    "show.</p>\n", c->id);
		return;
	}
	step = y_step(max);
	top = (max + step - 1) / step * step;
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" "
	    "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	    "aria-label=\"", c->id, CHART_W, CHART_H, CHART_W, CHART_H);
	put_text(out, c->title);
	fprintf(out, "\">\n<title>");
	put_text(out, c->title);
	fprintf(out, "</title>\n");
	y_axis(out, c, top, step);
	bars(out, c, top);
	x_axis(out, c);
	fprintf(out, "</svg>\n");
}

/* Midnight UTC of a "YYYY-MM-DD" of the statistics, or NULL. */
static GDateTime *
parse_date(const char *date)
{
	int f[3] = { 0, 0, 0 }, k = 0;

	for (const char *p = date; *p != '\0'; p++) {
		if (*p == '-' && k < 2)
			k++;
		else if (g_ascii_isdigit(*p) && f[k] < 10000)
			f[k] = f[k] * 10 + g_ascii_digit_value(*p);
		else
			return NULL;
	}
	return k == 2 ? g_date_time_new_utc(f[0], f[1], f[2], 0, 0, 0) : NULL;
}

/* Days of the statistics (sorted by date): each day and its sessions. */
struct days {
	size_t		 n;
	char		(*date)[sizeof(((struct stats_day *)0)->date)];
	const char	**names;	/* date[i], and NULL */
	const char	**short_names;	/* MM-DD, within date[i] */
	uint64_t	*sessions;
};

/*
 * Every day from the first session's to the last's, those without
 * sessions too (a gap shown is a gap seen), if there are at most
 * DAYS_MAX of them; else the days with sessions only.
 */
static void
days_fill(struct days *ds, const struct stats *st)
{
	guint len = st->days->len;
	/* No days: the array has no storage to point into (UBSan). */
	const struct stats_day *d = len > 0 ? &g_array_index(st->days,
	    struct stats_day, 0) : NULL;
	g_autoptr(GDateTime) first = len > 0 ? parse_date(d[0].date) : NULL;
	g_autoptr(GDateTime) last = len > 0 ? parse_date(d[len - 1].date) :
	    NULL;
	GTimeSpan span = first != NULL && last != NULL ?
	    g_date_time_difference(last, first) / G_TIME_SPAN_DAY : -1;

	ds->n = span >= 0 && span < DAYS_MAX ? (size_t)span + 1 : len;
	ds->date = g_malloc0((ds->n + 1) * sizeof(*ds->date));
	ds->names = g_new0(const char *, ds->n + 1);
	ds->short_names = g_new0(const char *, ds->n + 1);
	ds->sessions = g_new0(uint64_t, ds->n + 1);
	for (size_t i = 0, j = 0; i < ds->n; i++) {
		if (ds->n == len) {
			g_strlcpy(ds->date[i], d[i].date, sizeof(ds->date[i]));
		} else {
			g_autoptr(GDateTime) t = g_date_time_add_days(first,
			    (gint)i);
			g_autofree char *s = g_date_time_format(t, "%Y-%m-%d");

			g_strlcpy(ds->date[i], s, sizeof(ds->date[i]));
		}
		ds->names[i] = ds->date[i];
		/*
		 * "2026-11-20" under its bar as "11-20", the years in the
		 * title, if no MM-DD can stand for two days (under a year).
		 */
		ds->short_names[i] = strlen(ds->date[i]) == 10 && span >= 0 &&
		    span < 365 ? ds->date[i] + 5 : ds->date[i];
		if (j < len && strcmp(d[j].date, ds->date[i]) == 0)
			ds->sessions[i] = d[j++].sessions;
	}
}

static void
days_clear(struct days *ds)
{
	g_free(ds->date);
	g_free(ds->names);
	g_free(ds->short_names);
	g_free(ds->sessions);
}

/* The three charts. */
static void
charts(const struct stats *st, FILE *out)
{
	const char *hours[24], *holds[STATS_HOLD_BINS];
	char hour_names[24][4], day_title[64];
	struct days ds;

	days_fill(&ds, st);
	if (ds.n > 0)
		g_snprintf(day_title, sizeof(day_title), "day (UTC), %s to %s",
		    ds.names[0], ds.names[ds.n - 1]);
	else
		g_strlcpy(day_title, "day (UTC)", sizeof(day_title));
	bar_chart(out, &(struct chart){ .id = "chart-days",
	    .title = "Sessions per day (UTC)", .x_title = day_title,
	    .y_title = "sessions", .labels = ds.names,
	    .short_labels = ds.short_names, .values = ds.sessions,
	    .n = ds.n });
	days_clear(&ds);
	for (int h = 0; h < 24; h++) {
		g_snprintf(hour_names[h], sizeof(hour_names[h]), "%02d", h);
		hours[h] = hour_names[h];
	}
	bar_chart(out, &(struct chart){ .id = "chart-hours",
	    .title = "Sessions by hour of day (UTC)",
	    .x_title = "hour of day (UTC)", .y_title = "sessions",
	    .labels = hours, .values = st->by_hour, .n = 24 });
	for (int b = 0; b < STATS_HOLD_BINS; b++)
		holds[b] = stats_hold_name(b);
	bar_chart(out, &(struct chart){ .id = "chart-holds",
	    .title = "Hold times", .x_title = "time held",
	    .y_title = "sessions", .labels = holds, .values = st->hold,
	    .n = STATS_HOLD_BINS });
}

void
report_html(const struct stats *st, FILE *out)
{
	char t0[RECORD_TIME_LEN], t1[RECORD_TIME_LEN];

	fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'\">"
	    "<title>slowspam report</title>\n"
	    "<style>body{font-family:sans-serif;margin:2em;max-width:60em;"
	    "color:#222}"
	    ".fig{display:inline-block;margin:0 2em 1em 0}"
	    ".fig b{display:block;font-size:2em}"
	    "table{border-collapse:collapse}td,th{padding:2px 8px;"
	    "border-bottom:1px solid #ddd;text-align:left}"
	    "td.n{text-align:right}"
	    "svg text{font-family:sans-serif;fill:#222}"
	    "svg .tick,svg .xlabel{font-size:12px}"
	    "svg .value{font-size:11px}"
	    "svg .axis{font-size:13px;font-weight:bold}"
	    "svg .grid{stroke:#ddd}svg .axisline{stroke:#555}"
	    "svg rect{fill:#2c5d8f}svg .bar:hover rect{fill:#e07b00}"
	    "</style></head><body>\n");
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

	charts(st, out);

	fprintf(out, "<h2>Top networks</h2>\n<table><tr><th>network</th>"
	    "<th>sessions</th><th>hours</th></tr>\n");
	for (guint i = 0; i < st->top->len; i++) {
		const struct stats_net *n = &g_array_index(st->top,
		    struct stats_net, i);

		fprintf(out, "<tr><td>");
		put_bytes(out, n->net);
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
