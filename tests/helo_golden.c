/*
 * helo_golden.c - run helo_classify over the cases of a golden input file.
 *
 * Usage: helo_golden helo.in > out; then compare out with helo.ref.
 *
 * One case per line. Blank lines and lines starting with '#' are skipped.
 * A line "<empty>" is the empty argument. Otherwise the bytes of the line
 * are the argument, with these escapes: \\ \t \n \r \0 and \xHH (exactly
 * two hex digits). Any other backslash sequence is an error (exit 2).
 * Each case prints: <line as written>\t<class>\t<reason>\t<flags or ->.
 * HELO_F_OURS is judged against a fixed ours: names "mx.example.org",
 * "tarpit.example.org." and addresses "192.0.2.25", "2001:db8::25".
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helo.h"

/* Longest line the golden file may hold. */
#define GOLDEN_LINE_MAX	4096

static const char *const golden_names[] = {
	"mx.example.org", "tarpit.example.org.",
};
static const char *const golden_addrs[] = {
	"192.0.2.25", "2001:db8::25",
};

/* Value of the hex digit c, or -1. */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode the escapes of line into out; returns the length or -1. */
static long
unescape(const char *line, char *out, size_t size)
{
	size_t n = 0;
	int hi, lo;
	char c;

	while (*line != '\0') {
		if (n >= size)
			return -1;
		if ((c = *line++) != '\\') {
			out[n++] = c;
			continue;
		}
		switch ((c = *line++)) {
		case '\\':
			out[n++] = '\\';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case '0':
			out[n++] = '\0';
			break;
		case 'x':
			if ((hi = hexval((unsigned char)line[0])) < 0 ||
			    (lo = hexval((unsigned char)line[1])) < 0)
				return -1;
			out[n++] = (char)(hi * 16 + lo);
			line += 2;
			break;
		default:
			return -1;
		}
	}
	return (long)n;
}

/* Classify every case of argv[1] and print one result line for each. */
int
main(int argc, char **argv)
{
	struct helo_ours ours = {
		golden_names, sizeof(golden_names) / sizeof(golden_names[0]),
		golden_addrs, sizeof(golden_addrs) / sizeof(golden_addrs[0]),
	};
	struct helo_result res;
	char line[GOLDEN_LINE_MAX + 2], arg[GOLDEN_LINE_MAX];
	char flags[128];
	unsigned long lineno = 0;
	size_t len;
	long alen;
	FILE *fp;

	if (argc != 2) {
		fprintf(stderr, "usage: helo_golden helo.in\n");
		return 2;
	}
	if ((fp = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		return 2;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		len = strlen(line);
		if (len == 0 || line[len - 1] != '\n') {
			fprintf(stderr, "%s:%lu: line too long or "
			    "unterminated\n", argv[1], lineno);
			return 2;
		}
		line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (strcmp(line, "<empty>") == 0)
			alen = 0;
		else if ((alen = unescape(line, arg, sizeof(arg))) < 0) {
			fprintf(stderr, "%s:%lu: bad escape\n", argv[1],
			    lineno);
			return 2;
		}
		helo_classify(arg, (size_t)alen, &ours, &res);
		helo_flags_format(res.flags, flags, sizeof(flags));
		printf("%s\t%s\t%s\t%s\n", line, helo_class_name(res.class),
		    helo_reason_name(res.reason),
		    flags[0] == '\0' ? "-" : flags);
	}
	if (ferror(fp)) {
		perror(argv[1]);
		return 2;
	}
	fclose(fp);
	return fflush(stdout) == 0 ? 0 : 2;
}
