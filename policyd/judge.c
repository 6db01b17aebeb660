/*
 * judge.c - from a policy request to its answer (judge.h).
 *
 * The first request of a session (sessions.h) tells the engine of the
 * connection; a HELO name given or changed, of the HELO; a new message
 * (another instance, or without instance another sender), of MAIL FROM.
 * The answer plan of that message (answer.h) then says what this
 * request gets.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "complain.h"
#include "judge.h"
#include "log.h"
#include "store.h"

static struct complaint no_client;

/* The key's parts, their separators and the NUL fit SESSION_KEY_MAX. */
#define FIELD(f)	sizeof(((struct policy_request *)0)->f)
G_STATIC_ASSERT(FIELD(client_address) + FIELD(client_port) +
    FIELD(server_address) + FIELD(server_port) <= SESSION_KEY_MAX);
#undef FIELD

/* Postfix says "unknown" for a name it could not verify or find. */
static const char *
known_name(const struct policy_request *r, enum policy_attr a)
{
	const char *v = policy_value(r, a);

	return v != NULL && v[0] != '\0' && strcmp(v, "unknown") != 0 ?
	    v : NULL;
}

/* The session key: client address and port, server address and port. */
static void
session_key(const struct policy_request *r, char *key)
{
	static const enum policy_attr parts[] = {
		POLICY_CLIENT_ADDRESS, POLICY_CLIENT_PORT,
		POLICY_SERVER_ADDRESS, POLICY_SERVER_PORT,
	};
	size_t n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
		const char *v = policy_value(r, parts[i]);

		/* Each value fits its buffer, so the key fits (above). */
		n += (size_t)g_snprintf(key + n, SESSION_KEY_MAX - n, "%s%s",
		    i > 0 ? "|" : "", v != NULL ? v : "");
	}
}

/* The first request of a session: the connection. */
static void
judge_connect(struct judge *j, struct psession *p, const struct addr *client,
    const struct policy_request *r)
{
	const char *name = known_name(r, POLICY_CLIENT_NAME);
	bool confirmed = name != NULL;

	/* reverse_client_name is the PTR's name, not verified forward. */
	if (name == NULL)
		name = known_name(r, POLICY_REVERSE_CLIENT_NAME);
	verdict_connect(j->engine, &p->vs, client, name, confirmed,
	    store_now());
	p->connected = true;
}

/* A new message: MAIL FROM, and what it will be answered. */
static void
judge_mail(struct judge *j, struct psession *p, const char *id,
    const struct policy_request *r)
{
	const char *sender = policy_value(r, POLICY_SENDER);
	const char *sasl = policy_value(r, POLICY_SASL_USERNAME);
	enum verdict_do todo;

	psession_message_clear(p);
	todo = verdict_mail(j->engine, &p->vs, sender != NULL ? sender : "",
	    sasl != NULL && sasl[0] != '\0');
	/* As the milter adds them; a tempfail adds nothing. */
	if (todo != VERDICT_DO_STORE_TEMPFAIL) {
		p->header = verdict_header(&p->vs);
		p->ar = verdict_ar_header_line(&p->vs);
	}
	answer_plan_init(&p->plan, todo == VERDICT_DO_STORE_TEMPFAIL,
	    todo == VERDICT_DO_ACT ? p->vs.action : -1, p->header != NULL,
	    p->ar != NULL);
	p->msg_id = g_strdup(id);
	p->have_msg = true;
}

/* The message this request is about, or NULL before MAIL FROM. */
static const char *
message_id(const struct policy_request *r, enum answer_stage stage)
{
	const char *v = policy_value(r, POLICY_INSTANCE);

	if (stage == ANSWER_STAGE_NONE)
		return NULL;
	if (v != NULL && v[0] != '\0')
		return v;
	v = policy_value(r, POLICY_SENDER);
	return v != NULL ? v : "";
}

/* The text of the action kind for p's message; NULL: none (DUNNO). */
static char *
action_text(const struct psession *p, enum answer_kind kind)
{
	const char *code, *xcode, *text;

	switch (kind) {
	case ANSWER_REJECT:
	case ANSWER_TEMPFAIL:
	case ANSWER_STORE_TEMPFAIL:
		if (!verdict_reply(&p->vs, &code, &xcode, &text))
			return NULL;
		return g_strdup_printf("%s %s %s", code, xcode, text);
	case ANSWER_PREPEND_HEADER:
		return p->header != NULL ? g_strdup_printf("PREPEND %s: %s",
		    VERDICT_HEADER, p->header) : NULL;
	case ANSWER_PREPEND_AR:
		return p->ar != NULL ? g_strdup_printf("PREPEND %s: %s",
		    VERDICT_AR_HEADER, p->ar) : NULL;
	case ANSWER_HOLD:
		return g_strdup_printf("HOLD slowspam: %s",
		    p->vs.msg.why != NULL ? p->vs.msg.why : "verdict");
	case ANSWER_REDIRECT:
		return g_strdup_printf("REDIRECT %s",
		    p->vs.setup->conf->milter.divert_to);
	case ANSWER_DUNNO:
		break;
	}
	return NULL;
}

/* At level debug: what each request was answered. */
static void
log_answer(const struct psession *p, const struct policy_request *r,
    enum answer_stage stage, enum answer_kind kind)
{
	const char *instance = policy_value(r, POLICY_INSTANCE);
	char addr[ADDR_STRLEN];
	struct log_event e;

	log_event_begin(&e, "answer");
	log_event_str(&e, "client", p->vs.have_addr ?
	    addr_format(&p->vs.addr, addr) : "none");
	log_event_untrusted(&e, "instance", instance != NULL ? instance : "",
	    instance != NULL ? strlen(instance) : 0, LOG_VALUE_MAX);
	log_event_str(&e, "stage", answer_stage_name(stage));
	log_event_str(&e, "answer", answer_kind_name(kind));
	log_event_emit(&e, LOG_DEBUG);
}

/* The action for one request of a known client. */
static enum answer_kind
judge_session(struct judge *j, struct psession *p, const struct addr *client,
    const struct policy_request *r, char **text)
{
	enum answer_stage stage = answer_stage_parse(policy_value(r,
	    POLICY_PROTOCOL_STATE));
	const char *helo = policy_value(r, POLICY_HELO_NAME), *id;
	enum answer_kind kind;

	/* A client (Exim's ACLs) that names no stage asks for a message. */
	if (policy_value(r, POLICY_PROTOCOL_STATE) == NULL &&
	    policy_value(r, POLICY_SENDER) != NULL)
		stage = ANSWER_STAGE_RCPT;
	if (!p->connected)
		judge_connect(j, p, client, r);
	if (helo != NULL && helo[0] != '\0' &&
	    (p->vs.helo == NULL || strcmp(p->vs.helo, helo) != 0))
		verdict_helo(j->engine, &p->vs, helo);
	if ((id = message_id(r, stage)) == NULL)
		return ANSWER_DUNNO;
	if (!p->have_msg || strcmp(p->msg_id, id) != 0)
		judge_mail(j, p, id, r);
	kind = answer_next(&p->plan, stage);
	if (kind != ANSWER_DUNNO && (*text = action_text(p, kind)) == NULL) {
		log_msg(LOG_WARNING, "%s: no text for %s: answering DUNNO",
		    p->vs.netkey, answer_kind_name(kind));
		kind = ANSWER_DUNNO;
	}
	if (log_get_level() >= LOG_DEBUG)
		log_answer(p, r, stage, kind);
	return kind;
}

enum answer_kind
judge_request(struct judge *j, struct verdict_setup *setup,
    const struct policy_request *req, char *reply, size_t *len)
{
	const char *client = policy_value(req, POLICY_CLIENT_ADDRESS);
	char key[SESSION_KEY_MAX];
	g_autofree char *text = NULL;
	enum answer_kind kind = ANSWER_DUNNO;
	struct psession *p;
	struct addr a;

	if (client == NULL || !addr_parse(client, &a)) {
		char shown[4 * 64 + 8];

		log_escape(client != NULL ? client : "", client != NULL ?
		    strlen(client) : 0, 64, shown, sizeof(shown));
		complain(&no_client, LOG_WARNING, "request without a usable "
		    "client_address (\"%s\"%s): answering DUNNO", shown,
		    (req->toolong & (1u << POLICY_CLIENT_ADDRESS)) != 0 ?
		    ", too long" : "");
	} else {
		session_key(req, key);
		p = sessions_acquire(j->sessions, key, setup,
		    g_get_monotonic_time() / 1000);
		kind = judge_session(j, p, &a, req, &text);
		sessions_release(j->sessions, p, g_get_monotonic_time() / 1000);
	}
	if (kind != ANSWER_DUNNO &&
	    (*len = policy_reply(reply, JUDGE_REPLY_MAX, text,
	    strlen(text))) == 0) {
		log_msg(LOG_WARNING, "%s: the %s answer does not fit a reply "
		    "line: answering DUNNO", client, answer_kind_name(kind));
		kind = ANSWER_DUNNO;
	}
	if (kind == ANSWER_DUNNO)
		*len = policy_reply(reply, JUDGE_REPLY_MAX, "DUNNO", 5);
	return kind;
}
