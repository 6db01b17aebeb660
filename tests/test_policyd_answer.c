/*
 * test_policyd_answer.c - slowspam-policyd's choice of one action per
 * request (policyd/answer.c): every action, with and without its
 * headers, for 1 to 5 recipients, through the recommended wiring (RCPT,
 * DATA and END-OF-MESSAGE) and the others (recipients only, DATA only,
 * END-OF-MESSAGE only, MAIL and RCPT): each message gets each header
 * once and its action once, in order, and a refusal on every request;
 * nothing before MAIL FROM; the protocol_state names.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <glib.h>

#include "answer.h"
#include "conf.h"

/* Which restriction lists call check_policy_service. */
enum wiring {
	W_MAIL = 1,
	W_RCPT = 2,
	W_DATA = 4,
	W_EOM = 8,
};
#define W_RECOMMENDED	(W_RCPT | W_DATA | W_EOM)

/* One message's requests through wiring: the answers, in order. */
static GArray *
message(struct answer_plan *p, unsigned wiring, unsigned rcpts)
{
	GArray *out = g_array_new(FALSE, FALSE, sizeof(enum answer_kind));
	enum answer_kind k;

	/* Connect and HELO requests come before the message: never act. */
	k = answer_next(p, ANSWER_STAGE_NONE);
	g_assert_cmpint(k, ==, ANSWER_DUNNO);
	if (wiring & W_MAIL) {
		k = answer_next(p, ANSWER_STAGE_MAIL);
		g_array_append_val(out, k);
	}
	for (unsigned i = 0; (wiring & W_RCPT) && i < rcpts; i++) {
		k = answer_next(p, ANSWER_STAGE_RCPT);
		g_array_append_val(out, k);
	}
	if (wiring & W_DATA) {
		k = answer_next(p, ANSWER_STAGE_DATA);
		g_array_append_val(out, k);
	}
	if (wiring & W_EOM) {
		k = answer_next(p, ANSWER_STAGE_EOM);
		g_array_append_val(out, k);
	}
	return out;
}

static unsigned
count(const GArray *a, enum answer_kind k)
{
	unsigned n = 0;

	for (guint i = 0; i < a->len; i++)
		n += g_array_index(a, enum answer_kind, i) == k;
	return n;
}

/* The index of the first k in a, or -1. */
static int
first(const GArray *a, enum answer_kind k)
{
	for (guint i = 0; i < a->len; i++)
		if (g_array_index(a, enum answer_kind, i) == k)
			return (int)i;
	return -1;
}

static enum answer_kind
action_kind(int action)
{
	return action == CONF_ACTION_QUARANTINE ? ANSWER_HOLD :
	    action == CONF_ACTION_DIVERT ? ANSWER_REDIRECT : ANSWER_DUNNO;
}

/* The recommended wiring: everything once, in order, whatever count. */
static void
test_recommended(void)
{
	static const int actions[] = {
		-1, CONF_ACTION_TAG, CONF_ACTION_QUARANTINE,
		CONF_ACTION_DIVERT,
	};

	for (size_t ai = 0; ai < G_N_ELEMENTS(actions); ai++)
	for (unsigned h = 0; h < 4; h++)
	for (unsigned n = 1; n <= 5; n++) {
		bool header = h & 1, ar = h & 2;
		enum answer_kind act = action_kind(actions[ai]);
		struct answer_plan p;
		g_autoptr(GArray) a = NULL;
		int x, r, z;

		answer_plan_init(&p, false, actions[ai], header, ar);
		a = message(&p, W_RECOMMENDED, n);
		g_assert_cmpuint(a->len, ==, n + 2);
		g_assert_cmpuint(count(a, ANSWER_PREPEND_HEADER), ==, header);
		g_assert_cmpuint(count(a, ANSWER_PREPEND_AR), ==, ar);
		g_assert_cmpuint(count(a, ANSWER_HOLD), ==,
		    act == ANSWER_HOLD);
		g_assert_cmpuint(count(a, ANSWER_REDIRECT), ==,
		    act == ANSWER_REDIRECT);
		g_assert_cmpuint(count(a, ANSWER_DUNNO), ==, n + 2 - header -
		    ar - (act != ANSWER_DUNNO));
		/* X-Slowspam, then A-R, then the action; at once. */
		x = first(a, ANSWER_PREPEND_HEADER);
		r = first(a, ANSWER_PREPEND_AR);
		z = act != ANSWER_DUNNO ? first(a, act) : -1;
		if (header)
			g_assert_cmpint(x, ==, 0);
		if (ar)
			g_assert_cmpint(r, ==, header ? 1 : 0);
		if (act != ANSWER_DUNNO)
			g_assert_cmpint(z, ==, (int)header + (int)ar);
		/* Nothing is left for a late request. */
		g_assert_cmpint(answer_next(&p, ANSWER_STAGE_EOM), ==,
		    ANSWER_DUNNO);
	}
}

/* A refusal is the answer to every request of the message. */
static void
test_refusals(void)
{
	static const struct {
		bool		store;
		int		action;
		enum answer_kind kind;
	} cases[] = {
		{ false, CONF_ACTION_REJECT, ANSWER_REJECT },
		{ false, CONF_ACTION_TEMPFAIL, ANSWER_TEMPFAIL },
		{ true, -1, ANSWER_STORE_TEMPFAIL },
		{ true, CONF_ACTION_TAG, ANSWER_STORE_TEMPFAIL },
	};
	static const unsigned wirings[] = {
		W_RECOMMENDED, W_RCPT, W_DATA, W_EOM, W_MAIL | W_RCPT,
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
	for (size_t w = 0; w < G_N_ELEMENTS(wirings); w++)
	for (unsigned n = 1; n <= 5; n++) {
		struct answer_plan p;
		g_autoptr(GArray) a = NULL;

		answer_plan_init(&p, cases[i].store, cases[i].action, true,
		    true);
		a = message(&p, wirings[w], n);
		g_assert_cmpuint(a->len, >, 0);
		g_assert_cmpuint(count(a, cases[i].kind), ==, a->len);
	}
}

/*
 * Recipients only: with n recipients the first n pending answers; one
 * recipient gets the X-Slowspam header alone.
 */
static void
test_recipients_only(void)
{
	for (unsigned n = 1; n <= 5; n++) {
		struct answer_plan p;
		g_autoptr(GArray) a = NULL;

		answer_plan_init(&p, false, CONF_ACTION_QUARANTINE, true, true);
		a = message(&p, W_RCPT, n);
		g_assert_cmpuint(count(a, ANSWER_PREPEND_HEADER), ==, 1);
		g_assert_cmpuint(count(a, ANSWER_PREPEND_AR), ==, n >= 2);
		g_assert_cmpuint(count(a, ANSWER_HOLD), ==, n >= 3);
	}
}

/*
 * END-OF-MESSAGE allows no PREPEND: wired there alone, the action still
 * comes; wired at DATA and there, DATA's PREPEND comes first.
 */
static void
test_end_of_message(void)
{
	struct answer_plan p;
	g_autoptr(GArray) a = NULL, b = NULL, c = NULL;

	answer_plan_init(&p, false, CONF_ACTION_DIVERT, true, true);
	a = message(&p, W_EOM, 1);
	g_assert_cmpuint(a->len, ==, 1);
	g_assert_cmpint(g_array_index(a, enum answer_kind, 0), ==,
	    ANSWER_REDIRECT);

	answer_plan_init(&p, false, CONF_ACTION_QUARANTINE, true, true);
	b = message(&p, W_DATA | W_EOM, 1);
	g_assert_cmpint(g_array_index(b, enum answer_kind, 0), ==,
	    ANSWER_PREPEND_HEADER);
	g_assert_cmpint(g_array_index(b, enum answer_kind, 1), ==,
	    ANSWER_HOLD);

	/* Tag, nothing but headers: END-OF-MESSAGE has none to give. */
	answer_plan_init(&p, false, CONF_ACTION_TAG, true, true);
	c = message(&p, W_EOM, 1);
	g_assert_cmpint(g_array_index(c, enum answer_kind, 0), ==,
	    ANSWER_DUNNO);
}

/* MAIL wired too takes the first header there. */
static void
test_mail_stage(void)
{
	struct answer_plan p;
	g_autoptr(GArray) a = NULL;

	answer_plan_init(&p, false, CONF_ACTION_QUARANTINE, true, true);
	a = message(&p, W_MAIL | W_RECOMMENDED, 2);
	g_assert_cmpint(g_array_index(a, enum answer_kind, 0), ==,
	    ANSWER_PREPEND_HEADER);
	g_assert_cmpint(g_array_index(a, enum answer_kind, 1), ==,
	    ANSWER_PREPEND_AR);
	g_assert_cmpint(g_array_index(a, enum answer_kind, 2), ==,
	    ANSWER_HOLD);
	g_assert_cmpuint(count(a, ANSWER_DUNNO), ==, 2);
}

/* Nothing to do: DUNNO to every request. */
static void
test_nothing(void)
{
	struct answer_plan p;
	g_autoptr(GArray) a = NULL;

	answer_plan_init(&p, false, -1, false, false);
	a = message(&p, W_MAIL | W_RECOMMENDED, 3);
	g_assert_cmpuint(count(a, ANSWER_DUNNO), ==, a->len);
}

static void
test_stages(void)
{
	g_assert_cmpint(answer_stage_parse("RCPT"), ==, ANSWER_STAGE_RCPT);
	g_assert_cmpint(answer_stage_parse("MAIL"), ==, ANSWER_STAGE_MAIL);
	g_assert_cmpint(answer_stage_parse("DATA"), ==, ANSWER_STAGE_DATA);
	g_assert_cmpint(answer_stage_parse("BDAT"), ==, ANSWER_STAGE_DATA);
	g_assert_cmpint(answer_stage_parse("END-OF-MESSAGE"), ==,
	    ANSWER_STAGE_EOM);
	g_assert_cmpint(answer_stage_parse("CONNECT"), ==, ANSWER_STAGE_NONE);
	g_assert_cmpint(answer_stage_parse("EHLO"), ==, ANSWER_STAGE_NONE);
	g_assert_cmpint(answer_stage_parse("VRFY"), ==, ANSWER_STAGE_NONE);
	g_assert_cmpint(answer_stage_parse("rcpt"), ==, ANSWER_STAGE_NONE);
	g_assert_cmpint(answer_stage_parse(NULL), ==, ANSWER_STAGE_NONE);
	g_assert_cmpstr(answer_stage_name(ANSWER_STAGE_EOM), ==,
	    "end-of-message");
	g_assert_cmpstr(answer_kind_name(ANSWER_REDIRECT), ==, "redirect");
	g_assert_cmpstr(answer_kind_name(ANSWER_NKINDS), ==, "?");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/policyd/answer/recommended", test_recommended);
	g_test_add_func("/policyd/answer/refusals", test_refusals);
	g_test_add_func("/policyd/answer/recipients-only",
	    test_recipients_only);
	g_test_add_func("/policyd/answer/end-of-message", test_end_of_message);
	g_test_add_func("/policyd/answer/mail", test_mail_stage);
	g_test_add_func("/policyd/answer/nothing", test_nothing);
	g_test_add_func("/policyd/answer/stages", test_stages);
	return g_test_run();
}
